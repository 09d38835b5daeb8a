"""Framework versions in the database: import, list, look up, export."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from frameworks import Framework, read_ler, write_case, write_ler, write_moodle_csv
from lti_app.db.models import FrameworkLevel, FrameworkVersion, Statement


class FrameworkConflict(ValueError):
    """Same identifier and version already imported with different content."""


@dataclass(frozen=True)
class ImportResult:
    version: FrameworkVersion
    created: bool


def content_hash(fw: Framework) -> str:
    canonical = json.dumps(write_ler(fw), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def import_framework(session: Session, fw: Framework, source_format: str) -> ImportResult:
    """Store a framework version; importing the same content again changes nothing."""
    digest = content_hash(fw)
    existing = session.get(FrameworkVersion, fw.id)
    if existing is not None:
        if existing.content_hash != digest:
            raise FrameworkConflict(
                f"{fw.identifier} version {fw.version} is already imported with different "
                "content; give the changed framework a new version"
            )
        return ImportResult(existing, created=False)

    row = FrameworkVersion(
        id=fw.id,
        identifier=fw.identifier,
        version=fw.version,
        title=fw.title,
        description=fw.description,
        source_format=source_format,
        document=write_ler(fw),
        content_hash=digest,
    )
    session.add(row)
    for position, level in enumerate(fw.levels, start=1):
        session.add(
            FrameworkLevel(
                id=level.id,
                framework_version_id=fw.id,
                key=level.key,
                label=level.label,
                position=position,
            )
        )
        for st in level.statements:
            session.add(
                Statement(
                    id=st.id,
                    framework_version_id=fw.id,
                    level_id=level.id,
                    position=st.position,
                    text=st.text,
                    competency=st.competency,
                    performance=st.performance,
                )
            )
    session.flush()
    return ImportResult(row, created=True)


def list_versions(session: Session) -> list[FrameworkVersion]:
    return list(
        session.scalars(
            select(FrameworkVersion).order_by(FrameworkVersion.title, FrameworkVersion.imported_at)
        )
    )


def find_version(session: Session, ref: str) -> FrameworkVersion | None:
    """By uuid, or by identifier (its newest import), or ``identifier@version``."""
    try:
        return session.get(FrameworkVersion, uuid.UUID(ref))
    except ValueError:
        pass
    identifier, _, version = ref.partition("@")
    query = select(FrameworkVersion).where(FrameworkVersion.identifier == identifier)
    if version:
        query = query.where(FrameworkVersion.version == version)
    return session.scalars(query.order_by(FrameworkVersion.imported_at.desc())).first()


# Versions are immutable, so (id, hash) identifies the parsed model for good.
_MODELS: dict[tuple[uuid.UUID, str], Framework] = {}


def to_model(row: FrameworkVersion) -> Framework:
    key = (row.id, row.content_hash)
    model = _MODELS.get(key)
    if model is None:
        if len(_MODELS) > 128:
            _MODELS.clear()
        model = _MODELS[key] = read_ler(row.document)
    return model


def summary(row: FrameworkVersion) -> dict[str, object]:
    return {
        "id": str(row.id),
        "identifier": row.identifier,
        "version": row.version,
        "title": row.title,
        "levels": [
            {"key": lv.key, "label": lv.label, "statements": len(lv.statements)}
            for lv in row.levels
        ],
    }


ExportFormat = Literal["case", "moodle-csv", "ler"]


def export(row: FrameworkVersion, fmt: ExportFormat, base_url: str) -> str:
    fw = to_model(row)
    if fmt == "case":
        return json.dumps(write_case(fw, base_url), indent=2, ensure_ascii=False)
    if fmt == "moodle-csv":
        return write_moodle_csv(fw)
    return json.dumps(write_ler(fw), ensure_ascii=False, indent=2)
