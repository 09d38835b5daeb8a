"""Framework versions in the database: import, list, look up, export.

Who may use a version (``owner_platform_id``): every platform when a tool admin published
it with the CLI (NULL), else only the platform whose administrator uploaded it. Lookups
take a ``Scope`` and never see past it: a version another platform owns is "not found",
exactly like one that does not exist.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from frameworks import Framework, read_ler, write_case, write_ler, write_moodle_csv
from lti_app.db.models import FrameworkLevel, FrameworkVersion, Statement
from lti_app.services.messages import N_


class FrameworkConflict(ValueError):
    """Same identifier and version already imported with different content."""


class _Every(enum.Enum):
    EVERY = "every"


EVERY = _Every.EVERY  # no scope: the CLI and tool admins' own pages
# A platform's id (what it may use), None (published for every platform only) or EVERY.
Scope = int | None | Literal[_Every.EVERY]


def usable_by(scope: Scope) -> ColumnElement[bool]:
    """The rows a scope may see, as a WHERE clause."""
    published = FrameworkVersion.owner_platform_id.is_(None)
    if scope is EVERY:
        return true()
    if scope is None:
        return published
    return or_(published, FrameworkVersion.owner_platform_id == scope)


def may_use(row: FrameworkVersion, scope: Scope) -> bool:
    return scope is EVERY or row.owner_platform_id is None or row.owner_platform_id == scope


@dataclass(frozen=True)
class ImportResult:
    version: FrameworkVersion
    created: bool
    published: bool = False  # an owned version a tool admin has now published for everyone


def content_hash(fw: Framework) -> str:
    canonical = json.dumps(write_ler(fw), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def import_framework(
    session: Session, fw: Framework, source_format: str, *, owner_platform_id: int | None = None
) -> ImportResult:
    """Store a framework version; importing the same content again changes nothing.

    ``owner_platform_id`` None publishes it for every platform (the CLI); a platform's id
    keeps it to that platform (its administrator's upload).
    """
    digest = content_hash(fw)
    existing = session.get(FrameworkVersion, fw.id)
    if existing is not None:
        return _import_again(session, existing, fw, digest, owner_platform_id)
    row = _add_version(session, fw, source_format, digest, owner_platform_id)
    session.flush()
    return ImportResult(row, created=True)


def _import_again(
    session: Session,
    existing: FrameworkVersion,
    fw: Framework,
    digest: str,
    owner_platform_id: int | None,
) -> ImportResult:
    """A version with this id is stored: the same content changes nothing (or publishes it,
    from the CLI); other content, or another platform's version, is a conflict."""
    if owner_platform_id is not None and not may_use(existing, owner_platform_id):
        # Ids are global (uuid5 of identifier + version): another platform's version
        # blocks this one. Say only that the pair is taken, never whose or what it holds.
        raise FrameworkConflict(
            f"{fw.identifier} version {fw.version} is already taken; "
            "give your framework another version or identifier"
        )
    if existing.content_hash != digest:
        raise FrameworkConflict(
            f"{fw.identifier} version {fw.version} is already imported with different "
            "content; give the changed framework a new version"
        )
    if owner_platform_id is None and existing.owner_platform_id is not None:
        # The same content from the CLI: the tool admin publishes it for everyone.
        existing.owner_platform_id = None
        session.flush()
        return ImportResult(existing, created=False, published=True)
    return ImportResult(existing, created=False)


def _add_version(
    session: Session,
    fw: Framework,
    source_format: str,
    digest: str,
    owner_platform_id: int | None,
) -> FrameworkVersion:
    """The version's row, its levels' and its statements' rows, added (not flushed)."""
    row = FrameworkVersion(
        id=fw.id,
        identifier=fw.identifier,
        version=fw.version,
        title=fw.title,
        description=fw.description,
        source_format=source_format,
        document=write_ler(fw),
        content_hash=digest,
        owner_platform_id=owner_platform_id,
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
    return row


def list_versions(session: Session, *, scope: Scope) -> list[FrameworkVersion]:
    return list(
        session.scalars(
            select(FrameworkVersion)
            .where(usable_by(scope))
            .order_by(FrameworkVersion.title, FrameworkVersion.imported_at)
        )
    )


def find_version(session: Session, ref: str, *, scope: Scope) -> FrameworkVersion | None:
    """By uuid, or by identifier (the newest import ``scope`` may use), or
    ``identifier@version``; None for what does not exist and for what ``scope`` may not use."""
    query = select(FrameworkVersion).where(usable_by(scope))
    try:
        return session.scalars(query.where(FrameworkVersion.id == uuid.UUID(ref))).first()
    except ValueError:
        pass
    identifier, _, version = ref.partition("@")
    query = query.where(FrameworkVersion.identifier == identifier)
    if version:
        query = query.where(FrameworkVersion.version == version)
    return session.scalars(query.order_by(FrameworkVersion.imported_at.desc())).first()


def find_reference(
    session: Session, framework: str, version: str | None, *, scope: Scope
) -> tuple[FrameworkVersion | None, tuple[str, dict[str, str]] | None]:
    """A framework named as custom parameters name it: an identifier (with an optional
    version) or a version's uuid (with an optional version that must be that uuid's).
    (row, None) when found; (None, (message, params)) when not: a sentence for the person who
    set the parameters, marked for translation."""
    framework, version = framework.strip(), (version or "").strip()
    try:
        version_id = uuid.UUID(framework)
    except ValueError:
        version_id = None
    not_loaded = N_("framework '%(ref)s' is not loaded in skillsign")
    if version_id is not None:
        row = find_version(session, str(version_id), scope=scope)
        if row is None:
            return None, (not_loaded, {"ref": framework})
        if version and version != row.version:
            return None, (
                N_(
                    "the framework version %(id)s is %(identifier)s version '%(version)s', "
                    "not '%(asked)s': set skillsign_version=%(version)s or leave it out"
                ),
                {
                    "id": framework,
                    "identifier": row.identifier,
                    "version": row.version,
                    "asked": version,
                },
            )
        return row, None
    ref = f"{framework}@{version}" if version else framework
    row = find_version(session, ref, scope=scope)
    if row is None:
        return None, (not_loaded, {"ref": ref})
    return row, None


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
