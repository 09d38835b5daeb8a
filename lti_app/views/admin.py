"""Admin pages (``/s/<ls>/admin/...``): platforms and pending deployments, framework
upload, the issuer profile, keys.

Two kinds of administrator reach them (``Actor.is_admin``):

* a tool administrator (``skillsign admins add``) sees and manages everything;
* an administrator of the launching platform (LTI system or institution
  Administrator role) manages that platform's deployments and may upload
  frameworks; tool-wide settings (other platforms, keys) stay out of reach.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from credentials.fields import ABSOLUTE_IRI, EMAIL
from frameworks import FrameworkError, detect_format, load
from keys import KeyKind, KeyStore, KeyStoreError
from lti_app import request_db
from lti_app.auth import current_actor, launch_blueprint, require_admin
from lti_app.db.models import Platform
from lti_app.errors import AppError, Forbidden, NotFound
from lti_app.services import audit, registry
from lti_app.services import frameworks as framework_service
from lti_app.services import issuer as issuer_service
from lti_app.views import checklist_pages as pages

bp = launch_blueprint("admin", __name__)
bp.context_processor(pages.nav_context)

UPLOAD_LIMIT = 5 * 1024 * 1024
RSA_GRACE = timedelta(days=7)


def _require_tool_admin() -> None:
    if not current_actor().is_tool_admin:
        raise Forbidden(gettext("Only tool administrators can do this."))


def _platforms() -> list[Platform]:
    actor = current_actor()
    db = request_db.session()
    if actor.is_tool_admin:
        return registry.list_platforms(db)
    own = db.get(Platform, actor.platform_id)
    return [own] if own is not None else []


def _platform(platform_id: int) -> Platform:
    found = next((p for p in _platforms() if p.id == platform_id), None)
    if found is None:
        raise NotFound(gettext("There is no such platform."))
    return found


def _audit(action: str, **details: object) -> None:
    actor = current_actor()
    audit.record(
        request_db.session(),
        action,
        actor_id=actor.user_id,
        object_type="admin",
        details={k: v for k, v in details.items() if v is not None},
    )


@bp.get("/admin/")
@require_admin
def index() -> str:
    platforms = _platforms()
    pending = [(p, d) for p in platforms for d in p.deployments if d.status != "approved"]
    return render_template(
        "admin/index.html",
        platforms=platforms,
        pending=pending,
        tool_admin=current_actor().is_tool_admin,
    )


@bp.post("/admin/platforms/<dbid:platform_id>/deployments")
@require_admin
def deployment(platform_id: int) -> Response:
    platform = _platform(platform_id)
    deployment_id = request.form.get("deployment_id", "")
    decision = request.form.get("decision")
    db = request_db.session()
    if registry.find_deployment(db, platform.id, deployment_id) is None:
        raise NotFound(gettext("There is no such deployment."))
    if decision == "approve":
        registry.approve_deployment(db, platform, deployment_id)
        _audit("deployment.approve", platform=platform.id, deployment_id=deployment_id)
        flash(gettext("Deployment %(id)s approved.", id=deployment_id), "success")
    elif decision == "remove":
        registry.remove_deployment(db, platform, deployment_id)
        _audit("deployment.remove", platform=platform.id, deployment_id=deployment_id)
        flash(gettext("Deployment %(id)s removed.", id=deployment_id), "success")
    else:
        raise AppError(gettext("Choose approve or remove."))
    return redirect(url_for(".index"), 303)


# -- frameworks ------------------------------------------------------------------------
def _frameworks_page(
    errors: list[tuple[str, str]] | None = None, status: int = 200, file_name: str | None = None
) -> tuple[str, int]:
    actor = current_actor()
    scope = framework_service.EVERY if actor.is_tool_admin else actor.platform_id
    versions = framework_service.list_versions(request_db.session(), scope=scope)
    html = render_template(
        "admin/frameworks.html",
        versions=versions,
        errors=errors or [],
        file_name=file_name,
        limit_mb=UPLOAD_LIMIT // (1024 * 1024),
    )
    return html, status


@bp.get("/admin/frameworks")
@require_admin
def frameworks() -> tuple[str, int]:
    return _frameworks_page()


@bp.post("/admin/frameworks")
@require_admin
def upload_framework() -> Response | tuple[str, int]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _frameworks_page([("$", gettext("Choose a framework file to upload."))], 400)
    data = upload.stream.read(UPLOAD_LIMIT + 1)
    if len(data) > UPLOAD_LIMIT:
        return _frameworks_page(
            [
                (
                    "$",
                    gettext("The file is larger than %(mb)d MB.", mb=UPLOAD_LIMIT // (1024 * 1024)),
                )
            ],
            413,
            upload.filename,
        )
    db = request_db.session()
    try:
        framework = load(data)  # every problem, JSON syntax ones with line and column
        source_format = detect_format(json.loads(data))
        # An upload from a launch belongs to the launching platform, whoever uploads it:
        # publishing for every platform stays with the CLI (`skillsign frameworks import`).
        result = framework_service.import_framework(
            db, framework, source_format, owner_platform_id=current_actor().platform_id
        )
    except FrameworkError as exc:
        return _frameworks_page([(e.path, e.message) for e in exc.errors], 400, upload.filename)
    except framework_service.FrameworkConflict as exc:
        return _frameworks_page([("$", str(exc))], 409, upload.filename)
    version = result.version
    if result.created:
        _audit(
            "framework.import",
            framework=version.identifier,
            version=version.version,
            id=str(version.id),
        )
        flash(
            gettext(
                "%(title)s %(version)s was imported.", title=version.title, version=version.version
            ),
            "success",
        )
    else:
        flash(
            gettext(
                "%(title)s %(version)s was already imported; nothing changed.",
                title=version.title,
                version=version.version,
            ),
            "info",
        )
    return redirect(url_for(".frameworks"), 303)


# -- issuer profile ------------------------------------------------------------------------
NAME_LIMIT = 255
URL_LIMIT = 1024
EMAIL_LIMIT = 320
DESCRIPTION_LIMIT = 2000


def _issuer_page(
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    db = request_db.session()
    context = issuer_service.context(db)
    institution = issuer_service.institution(db, context)
    did = context.web_did if context.did_method == "web" else None
    if did is None:
        try:
            did = context.signer().issuer_did
        except KeyStoreError:
            did = None
    shown = values or {
        "name": institution.name,
        "url": institution.url or "",
        "email": institution.email,
        "description": institution.description or "",
    }
    html = render_template(
        "admin/issuer.html",
        issuer=context,
        institution=institution,
        did=did,
        image=institution.image_url(context),
        values=shown,
        errors=errors or {},
        editable=current_actor().is_tool_admin,
        image_limit_kb=issuer_service.IMAGE_LIMIT // 1024,
        image_max_side=issuer_service.IMAGE_MAX_SIDE,
    )
    return html, status


@bp.get("/admin/issuer")
@require_admin
def issuer() -> tuple[str, int]:
    return _issuer_page()


def _check_profile(values: dict[str, str]) -> dict[str, str]:
    """Per-field problems with the submitted profile, in the page's language."""
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = gettext("Give the institution's name.")
    elif len(values["name"]) > NAME_LIMIT:
        errors["name"] = gettext("At most %(num)d characters.", num=NAME_LIMIT)
    url = values["url"]
    if url and (
        len(url) > URL_LIMIT
        or not url.startswith(("https://", "http://"))
        or not ABSOLUTE_IRI.match(url)
        or not urlsplit(url).hostname
    ):
        errors["url"] = gettext("Give a full web address, starting with https://.")
    email = values["email"]
    if not email:
        errors["email"] = gettext("Give a contact email address.")
    elif len(email) > EMAIL_LIMIT or not EMAIL.match(email):
        errors["email"] = gettext("That is not an email address.")
    if len(values["description"]) > DESCRIPTION_LIMIT:
        errors["description"] = gettext("At most %(num)d characters.", num=DESCRIPTION_LIMIT)
    return errors


def _logo_problem(data: bytes) -> str | None:
    problem = issuer_service.png_problem(data)
    if problem == "size":
        return gettext("The logo is larger than %(kb)d KB.", kb=issuer_service.IMAGE_LIMIT // 1024)
    if problem == "dimensions":
        return gettext(
            "The logo is larger than %(px)d pixels a side.", px=issuer_service.IMAGE_MAX_SIDE
        )
    if problem == "type":
        return gettext("The logo must be a PNG image (SVG is not accepted).")
    return None


@bp.post("/admin/issuer")
@require_admin
def save_issuer() -> Response | tuple[str, int]:
    _require_tool_admin()
    values = {
        key: (request.form.get(key) or "").strip()
        for key in ("name", "url", "email", "description")
    }
    errors = _check_profile(values)
    upload = request.files.get("logo")
    logo: bytes | None = None
    if upload is not None and upload.filename:
        try:
            logo = upload.stream.read(issuer_service.IMAGE_LIMIT + 1)
        finally:
            upload.close()  # a large upload is spooled to a temporary file
        problem = _logo_problem(logo)
        if problem is not None:
            errors["logo"] = problem
    if errors:
        return _issuer_page(errors, values, 400)
    db = request_db.session()
    issuer_service.save_institution(
        db,
        name=values["name"],
        url=values["url"] or None,
        email=values["email"],
        description=values["description"] or None,
        image=logo,
        remove_image=request.form.get("remove_logo") == "1",
        actor_id=current_actor().user_id,
    )
    _audit("issuer.profile", name=values["name"], logo=logo is not None or None)
    flash(
        gettext("The issuer profile was saved. Credentials issued from now on carry it."), "success"
    )
    return redirect(url_for(".issuer"), 303)


# -- keys ----------------------------------------------------------------------------------
def _store() -> KeyStore:
    return KeyStore(current_app.config["KEYS_DIR"])


@bp.get("/admin/keys")
@require_admin
def keys() -> str:
    _require_tool_admin()
    try:
        records = _store().records()
    except KeyStoreError as exc:
        records = []
        flash(str(exc), "error")
    return render_template("admin/keys.html", records=records)


@bp.post("/admin/keys/rotate")
@require_admin
def rotate_key() -> Response:
    _require_tool_admin()
    try:
        kind = KeyKind(request.form.get("kind", ""))
    except ValueError:
        raise AppError(gettext("Choose the kind of key to rotate.")) from None
    # LTI platforms cache our JWKS for a while: the old RSA key stays published for a week.
    # Credential keys stay published until retired by hand, so issued credentials keep verifying.
    record = _store().rotate(kind, RSA_GRACE if kind is KeyKind.RSA else None)
    _audit("key.rotate", kind=kind.value, kid=record.kid)
    flash(
        gettext("A new %(kind)s key is active: %(kid)s.", kind=kind.value, kid=record.kid),
        "success",
    )
    return redirect(url_for(".keys"), 303)
