"""CASE 1.0 URIs of our frameworks: every ``uri`` in an exported CFPackage dereferences here,
so a credential's alignments (``targetUrl`` = a statement's CFItem URI) lead somewhere real."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Any

from flask import Blueprint, Response
from sqlalchemy import select

from frameworks import write_case
from lti_app import request_db
from lti_app.db.models import FrameworkLevel, FrameworkVersion, Statement
from lti_app.services import frameworks as framework_service
from lti_app.services import issuer as issuer_service
from lti_app.services.errors import NotFound
from lti_app.views.credentials import json_response

bp = Blueprint("case", __name__, url_prefix="/case/v1p0")

_PACKAGES: OrderedDict[tuple[uuid.UUID, str, str], dict[str, Any]] = OrderedDict()
_LOCK = threading.Lock()


def package(version: FrameworkVersion) -> dict[str, Any]:
    """The version's CFPackage; versions never change, so each is built once per process."""
    base_url = issuer_service.context(request_db.session()).base_url
    key = (version.id, version.content_hash, base_url)
    with _LOCK:
        found = _PACKAGES.get(key)
        if found is not None:
            _PACKAGES.move_to_end(key)
            return found
    built = write_case(framework_service.to_model(version), base_url)
    with _LOCK:
        _PACKAGES[key] = built
        while len(_PACKAGES) > 32:
            _PACKAGES.popitem(last=False)
    return built


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{value!r} is not a CASE identifier (a UUID)") from None


def _version(version_id: uuid.UUID | None) -> FrameworkVersion:
    version = request_db.session().get(FrameworkVersion, version_id) if version_id else None
    if version is None:
        raise NotFound("no such CASE document")
    return version


def _case_json(data: Any) -> Response:
    return json_response(data, media_type="application/json", max_age=3600)


@bp.get("/CFPackages/<identifier>")
def cf_package(identifier: str) -> Response:
    return _case_json(package(_version(_uuid(identifier))))


@bp.get("/CFDocuments/<identifier>")
def cf_document(identifier: str) -> Response:
    return _case_json(package(_version(_uuid(identifier)))["CFDocument"])


@bp.get("/CFItems/<identifier>")
def cf_item(identifier: str) -> Response:
    wanted = _uuid(identifier)
    session = request_db.session()
    version_id = session.scalar(
        select(Statement.framework_version_id).where(Statement.id == wanted)
    ) or session.scalar(
        select(FrameworkLevel.framework_version_id).where(FrameworkLevel.id == wanted)
    )
    items = package(_version(version_id))["CFItems"]
    item = next((i for i in items if i["identifier"] == str(wanted)), None)
    if item is None:
        raise NotFound(f"no CFItem {identifier}")
    return _case_json(item)


def _search(kind: str, identifier: str) -> Response:
    """Associations and item types: few versions exist, so look through their packages."""
    wanted = str(_uuid(identifier))
    for version in request_db.session().scalars(select(FrameworkVersion)):
        built = package(version)
        found = (
            built["CFAssociations"]
            if kind == "CFAssociations"
            else built["CFDefinitions"]["CFItemTypes"]
        )
        for entry in found:
            if entry["identifier"] == wanted:
                return _case_json(entry)
    raise NotFound(f"no {kind[:-1]} {identifier}")


@bp.get("/CFAssociations/<identifier>")
def cf_association(identifier: str) -> Response:
    return _search("CFAssociations", identifier)


@bp.get("/CFItemTypes/<identifier>")
def cf_item_type(identifier: str) -> Response:
    return _search("CFItemTypes", identifier)
