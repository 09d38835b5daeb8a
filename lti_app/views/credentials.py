"""Public credential surfaces: the credential page and its downloads, achievements and badge
images, the issuer profile and DID document, status lists, and the OB 2.0 hosted objects.

Everything here is public and read-only: no login, no form. JSON-LD documents are served to
JSON clients by content negotiation, HTML to people.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlencode

import segno
from flask import Blueprint, Response, render_template, request, url_for
from markupsafe import Markup

from lti_app import request_db
from lti_app.db.models import Credential, FrameworkLevel, Platform
from lti_app.services import awarding, credential_store, status_lists, verification
from lti_app.services import issuer as issuer_service
from lti_app.services.errors import NotFound
from lti_app.services.issuer import IssuerContext

bp = Blueprint("credentials", __name__)

JSON_TYPES = ("application/ld+json", "application/json", "application/vc+ld+json")
LD_JSON = "application/ld+json"


def _issuer() -> IssuerContext:
    return issuer_service.context(request_db.session())


def wants_json() -> bool:
    """True when the client prefers JSON(-LD) to HTML (a browser sends text/html first)."""
    best = request.accept_mimetypes.best_match(["text/html", *JSON_TYPES])
    return (
        best in JSON_TYPES
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def json_response(
    data: Any, *, media_type: str = LD_JSON, status: int = 200, max_age: int | None = 300
) -> Response:
    body = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    response = Response(body, status=status, mimetype=media_type)
    response.headers["Access-Control-Allow-Origin"] = "*"  # verifiers run in browsers too
    response.headers["Vary"] = "Accept"
    if max_age is not None:
        response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.set_etag(hashlib.sha256(body).hexdigest())
    return cast("Response", response.make_conditional(request))  # it returns self


def _file(download: credential_store.Download) -> Response:
    response = Response(download.body, mimetype=download.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-cache"
    return response


def _credential(credential_id: uuid.UUID) -> Credential:
    return credential_store.get(request_db.session(), credential_id)


# --------------------------------------------------------------------------- the credential


def linkedin_url(name: str, organisation: str, credential: Credential, url: str) -> str:
    """LinkedIn's "add to profile" link for a certification."""
    params: dict[str, Any] = {
        "startTask": "CERTIFICATION_NAME",
        "name": name,
        "organizationName": organisation,
        "issueYear": credential.issued_at.year,
        "issueMonth": credential.issued_at.month,
        "certUrl": url,
        "certId": str(credential.id),
    }
    if credential.valid_until is not None:
        params["expirationYear"] = credential.valid_until.year
        params["expirationMonth"] = credential.valid_until.month
    return "https://www.linkedin.com/profile/add?" + urlencode(params)


def qr_svg(url: str) -> Markup:
    """An inline SVG QR code of ``url`` (drawn here: no external service sees the link)."""
    code = segno.make(url, error="m")
    svg = code.svg_inline(scale=4, border=2, dark="#14213d", light="#ffffff", svgclass="qr")
    return Markup(svg)  # noqa: S704 - segno's own SVG markup of our own URL


def _format_day(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d") if value else None


@bp.get("/credentials/<uuid:credential_id>")
def credential_page(credential_id: uuid.UUID) -> Response | str:
    session = request_db.session()
    issuer = _issuer()
    credential, status_bit = credential_store.get_with_status(session, credential_id)
    if wants_json():
        return json_response(credential.document, max_age=None)
    document = credential.document
    subject = document.get("credentialSubject", {})
    achievement = subject.get("achievement", {})
    # A public page is viewed far more often than anything it depends on changes.
    result = verification.verify_issued(session, credential, status_bit)
    url = issuer.credential_url(credential.id)
    state = awarding.credential_state(credential)
    name = achievement.get("name") or document.get("name") or ""
    issuer_name = (document.get("issuer") or {}).get("name") or issuer.name
    evidence = [e for e in document.get("evidence") or [] if isinstance(e, dict)]
    return render_template(
        "credentials/credential.html",
        credential=credential,
        document=document,
        achievement=achievement,
        alignments=achievement.get("alignment") or [],
        evidence=evidence,
        issuer_name=issuer_name,
        issuer_id=(document.get("issuer") or {}).get("id"),
        issuer_profile_url=issuer.issuer_profile_url(),
        learner_name=credential_store.learner_display_name(session, credential),
        result=result,
        state=state,
        issued_on=_format_day(credential.issued_at),
        valid_until=_format_day(credential.valid_until),
        revoked_on=_format_day(credential.revoked_at),
        url=url,
        # The badge as the credential stands: marked REVOKED or EXPIRED when it no longer does,
        # here and in link previews.
        image_url=f"{url}/badge.png",
        image_path=url_for("credentials.credential_badge", credential_id=credential.id, fmt="png"),
        # Only a standing credential is offered for a profile.
        linkedin=linkedin_url(name, issuer_name, credential, url)
        if state == "valid" and result.valid
        else None,
        qr=qr_svg(url),
        # No OB 2.0 assertion for a credential without an email identity (a wallet's DID).
        ob2_url=issuer.ob2_assertion_url(credential.id)
        if credential_store.ob2_email_recipient(document) is not None
        else None,
    )


@bp.get("/credentials/<uuid:credential_id>/badge.<fmt>")
def credential_badge(credential_id: uuid.UUID, fmt: str) -> Response:
    """The credential's badge as it stands now (no credential baked in): REVOKED or EXPIRED
    on the ribbon when it no longer stands. Cached briefly: a revocation shows within a
    minute, as on the status list."""
    if fmt not in ("png", "svg"):
        raise NotFound(f"no badge image .{fmt}: use .png or .svg")
    session = request_db.session()
    credential = _credential(credential_id)
    body = credential_store.credential_badge(session, credential, fmt)  # type: ignore[arg-type]
    response = Response(body, mimetype=credential_store.MEDIA_TYPES[fmt])
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["Access-Control-Allow-Origin"] = "*"
    if fmt == "svg":
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'"
        )
    response.set_etag(hashlib.sha256(body).hexdigest())
    return cast("Response", response.make_conditional(request))  # it returns self


@bp.get("/credentials/<uuid:credential_id>.<fmt>")
def credential_download(credential_id: uuid.UUID, fmt: str) -> Response:
    if fmt not in credential_store.EXPORT_FORMATS:
        raise NotFound(f"no such download: .{fmt}")
    session = request_db.session()
    credential = _credential(credential_id)
    return _file(credential_store.export(session, credential, fmt))


# --------------------------------------------------------------------------- status lists


def _status_list(list_id: int, kid: str | None) -> Response:
    signed = status_lists.signed_list(request_db.session(), _issuer(), list_id, kid)
    if signed is None:
        raise NotFound(f"no status list {list_id}")
    # Short-lived caches: a revocation shows within a minute everywhere.
    return json_response(signed, media_type="application/vc+ld+json", max_age=60)


@bp.get("/credentials/status/<dbid:list_id>")
def status_list(list_id: int) -> Response:
    return _status_list(list_id, None)


@bp.get("/credentials/status/<dbid:list_id>/<kid>")
def status_list_for_key(list_id: int, kid: str) -> Response:
    return _status_list(list_id, kid)


# --------------------------------------------------------------------------- achievements


def _level(level_id: uuid.UUID) -> FrameworkLevel:
    return credential_store.level_of(request_db.session(), level_id)


@bp.get("/achievements/<uuid:level_id>")
def achievement(level_id: uuid.UUID) -> Response | str:
    level = _level(level_id)
    issuer = _issuer()
    data = credential_store.achievement_json(issuer, level)
    if wants_json():
        return json_response(data)
    session = request_db.session()
    # The course's institution: the LMS platform that owns the framework, when it has a name;
    # otherwise the institution that issues.
    owner = level.framework_version.owner_platform_id
    platform = session.get(Platform, owner) if owner is not None else None
    institution = issuer_service.institution(session, issuer)
    return render_template(
        "credentials/achievement.html",
        achievement=data,
        level=level,
        version=level.framework_version,
        course_institution=(platform.name if platform and platform.name else None)
        or institution.name,
        issuer_name=institution.name,
        image_path=url_for("credentials.badge_image", level_id=level.id, fmt="svg"),
    )


@bp.get("/achievements/<uuid:level_id>/badge.<fmt>")
def badge_image(level_id: uuid.UUID, fmt: str) -> Response:
    if fmt not in ("png", "svg"):
        raise NotFound(f"no badge image .{fmt}: use .png or .svg")
    body = credential_store.badge(_level(level_id), fmt)  # type: ignore[arg-type]  # checked
    response = Response(body, mimetype=credential_store.MEDIA_TYPES[fmt])
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["Access-Control-Allow-Origin"] = "*"
    if fmt == "svg":
        # A standalone SVG can hold script in principle; ours never does, and this says so.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'"
        )
    response.set_etag(hashlib.sha256(body).hexdigest())
    return cast("Response", response.make_conditional(request))  # it returns self


# --------------------------------------------------------------------------- issuer


@bp.get("/issuer")
def issuer_profile() -> Response | str:
    issuer = _issuer()
    institution = issuer_service.institution(request_db.session(), issuer)
    profile = credential_store.issuer_profile_json(issuer, institution)
    if wants_json():
        return json_response(profile)
    return render_template(
        "credentials/issuer.html",
        profile=profile,
        institution=institution,
        did_document=issuer.did_document(),
    )


@bp.get(issuer_service.IMAGE_PATH)
def issuer_image() -> Response:
    """The institution's logo: a PNG checked on upload, served as an image and nothing else."""
    body = issuer_service.institution_image(request_db.session())
    if body is None:
        raise NotFound("the institution has no logo")
    response = Response(body, mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.set_etag(hashlib.sha256(body).hexdigest())
    return cast("Response", response.make_conditional(request))  # it returns self


@bp.get("/.well-known/did.json")
@bp.get("/did.json")  # did:web with a path (a base URL below the host's root) resolves here
def did_document() -> Response:
    return json_response(_issuer().did_document(), media_type="application/did+ld+json")


# --------------------------------------------------------------------------- Open Badges 2.0


@bp.get("/ob2/issuer")
def ob2_issuer() -> Response:
    issuer = _issuer()
    institution = issuer_service.institution(request_db.session(), issuer)
    return json_response(
        credential_store.ob2_issuer(issuer, institution), media_type="application/json"
    )


@bp.get("/ob2/badges/<uuid:level_id>")
def ob2_badge_class(level_id: uuid.UUID) -> Response:
    data = credential_store.ob2_badge_class(_issuer(), _level(level_id))
    return json_response(data, media_type="application/json")


@bp.get("/ob2/assertions/<uuid:credential_id>")
def ob2_assertion(credential_id: uuid.UUID) -> Response:
    credential = _credential(credential_id)
    data = credential_store.ob2_assertion(_issuer(), credential)
    if data is None:
        raise NotFound(
            "this credential has no Open Badges 2.0 assertion: it names its holder by a "
            "wallet's DID (or a pseudonym), and an OB 2.0 recipient can only be an email "
            "address, a URL or a telephone number. Its Open Badges 3.0 form is at "
            f"{_issuer().credential_url(credential.id)}"
        )
    # OB 2.0 hosted verification: a revoked assertion answers 410 Gone with revoked: true.
    status = 410 if credential.revoked_at is not None else 200
    return json_response(data, media_type="application/json", status=status, max_age=60)
