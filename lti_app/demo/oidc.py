"""The platform's side of the launch: OIDC authorization, its JWKS, deep linking return."""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session
from flask_babel import gettext as _
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from lti_app.db.base import utcnow
from lti_app.demo.messages import LTI, deep_linking_claims, resource_link_claims
from lti_app.demo.models import DemoCourse, DemoLineItem, DemoLink, DemoUsedDeepLinkResponse
from lti_app.demo.pages import SESSION_USER, platform
from lti_app.demo.platform import LEEWAY, DemoError
from lti_app.demo.seed import COURSE_ID, enrollments

log = logging.getLogger("skillsign.demo_lms")

bp = Blueprint("oidc", __name__)

DL_CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
DL_MSG = "https://purl.imsglobal.org/spec/lti-dl/claim/msg"
DL_ERRORMSG = "https://purl.imsglobal.org/spec/lti-dl/claim/errormsg"


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(platform().public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _param(name: str) -> str:
    value = request.values.get(name, "")
    if not value:
        raise DemoError(f"the authorization request has no {name}")
    return value


@bp.route("/auth", methods=["GET", "POST"])
def auth() -> str:
    """OIDC authorization endpoint (LTI 1.3 core, 5.1.1.2): check, sign, auto-POST."""
    settings = platform().settings
    if _param("client_id") != settings.client_id:
        raise DemoError(f"unknown client_id; this platform knows {settings.client_id!r}")
    redirect_uri = _param("redirect_uri")
    if redirect_uri not in settings.redirect_uris:
        # Never send an id_token to a URL the tool did not register.
        raise DemoError(f"redirect_uri {redirect_uri!r} is not registered for this tool")
    if _param("response_type") != "id_token":
        raise DemoError("response_type must be id_token")
    if "openid" not in _param("scope").split():
        raise DemoError("scope must include openid")
    if _param("response_mode") != "form_post":
        raise DemoError("response_mode must be form_post")
    if request.values.get("prompt", "none") != "none":
        raise DemoError("prompt must be none")
    nonce, state = _param("nonce"), _param("state")
    login_hint = _param("login_hint")
    hint = platform().read_hint(_param("lti_message_hint"))
    signed_in = session.get(SESSION_USER)
    if login_hint != signed_in or hint.get("user") != login_hint:
        raise DemoError(
            "login_hint does not match the person signed in to the demo LMS: "
            "start the launch again from the course page",
            status=403,
            code="login_required",
        )

    with platform().transaction() as db:
        member = {u.id: (u, e) for u, e in enrollments(db, COURSE_ID)}.get(login_hint)
        if member is None:
            raise DemoError("the person is not enrolled in the course", status=403)
        user, enrollment = member
        if hint.get("type") == "launch":
            link = db.get(DemoLink, hint.get("link"))
            if link is None:
                raise DemoError("the activity of this launch no longer exists", status=404)
            claims = resource_link_claims(db, settings, link, user, enrollment, nonce)
        elif hint.get("type") == "deep_link":
            if enrollment.role not in ("instructor", "ta"):
                raise DemoError("only staff can add activities", status=403)
            course = db.get(DemoCourse, hint.get("course"))
            assert course is not None
            data = platform().make_hint({"type": "dl_data", "course": course.id, "user": user.id})
            claims = deep_linking_claims(settings, course, user, enrollment, nonce, data)
        else:
            raise DemoError("lti_message_hint names no known message")
    id_token = platform().sign(claims)
    log.info(
        "demo LMS launch",
        extra={"message_type": claims[LTI + "message_type"], "user": login_hint},
    )
    return render_template(
        "demo/autopost.html",
        action=redirect_uri,
        fields={"id_token": id_token, "state": state},
        script_nonce=_script_nonce(),
    )


def _script_nonce() -> str:
    nonce = request.environ.setdefault("demo_lms.script_nonce", secrets.token_urlsafe(16))
    return str(nonce)


def _text(value: Any, limit: int) -> str | None:
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


def _create_link(db: Any, item: dict[str, Any], course_id: str) -> DemoLink:
    settings = platform().settings
    url = item.get("url") or settings.tool_launch_url
    if not isinstance(url, str) or not url.startswith(settings.tool_base_url + "/"):
        raise DemoError(f"content item url {url!r} does not point at the tool")
    custom = item.get("custom") if isinstance(item.get("custom"), dict) else {}
    assert isinstance(custom, dict)  # the line above makes it one
    link = DemoLink(
        id=f"demo-link-{uuid.uuid4().hex[:12]}",
        course_id=course_id,
        title=_text(item.get("title"), 255) or _("skillsign activity"),
        url=url,
        custom={str(k): v for k, v in custom.items() if isinstance(v, str)},
    )
    db.add(link)
    line = item.get("lineItem")
    if isinstance(line, dict):
        maximum = line.get("scoreMaximum")
        if not isinstance(maximum, int | float) or isinstance(maximum, bool) or maximum <= 0:
            raise DemoError("lineItem.scoreMaximum must be a positive number")
        db.add(
            DemoLineItem(
                course_id=course_id,
                label=_text(line.get("label"), 255) or link.title,
                score_maximum=float(maximum),
                resource_link_id=link.id,
                resource_id=_text(line.get("resourceId"), 255),
                tag=_text(line.get("tag"), 255),
            )
        )
    return link


def _replayed() -> str:
    return _(
        "This deep linking response was already used, so nothing was added again. "
        "Start deep linking again from the course to add another activity."
    )


@bp.post("/deep-link-return")
def deep_link_return() -> Response:
    """Where the tool POSTs its LtiDeepLinkingResponse (LTI-DL 2.0, 4.2)."""
    settings = platform().settings
    token = request.form.get("JWT", "")
    if not token:
        raise DemoError("the deep linking response has no JWT parameter")
    claims = platform().verify_tool_jwt(
        token, audience=settings.issuer, what="deep linking response"
    )
    if claims.get(LTI + "message_type") != "LtiDeepLinkingResponse":
        raise DemoError("the JWT is not an LtiDeepLinkingResponse")
    if claims.get(LTI + "version") != "1.3.0":
        raise DemoError("the deep linking response must be LTI version 1.3.0")
    if claims.get(LTI + "deployment_id") != settings.deployment_id:
        raise DemoError("the deep linking response names another deployment")
    if not claims.get("nonce"):
        raise DemoError("the deep linking response has no nonce")
    data = claims.get(DL_DATA)
    if not isinstance(data, str):
        raise DemoError("the deep linking response does not return the request's data")
    context = platform().read_hint(data, max_age=3600)
    if context.get("type") != "dl_data" or context.get("course") != COURSE_ID:
        raise DemoError("the deep linking response's data is not from this course")

    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 255:
        raise DemoError("the deep linking response has no jti (or one over 255 characters)")
    items = claims.get(DL_CONTENT_ITEMS) or []
    if not isinstance(items, list):
        raise DemoError("content_items must be a list")
    created: list[str] = []
    now = utcnow()
    try:
        with platform().transaction() as db:
            # A signed response stays valid until its exp: without this, posting it again
            # (a reload, or someone who saw it) would add the same activities again.
            db.execute(
                delete(DemoUsedDeepLinkResponse).where(DemoUsedDeepLinkResponse.expires_at < now)
            )
            if db.get(DemoUsedDeepLinkResponse, jti) is not None:
                raise DemoError(_replayed())
            expires = datetime.fromtimestamp(float(claims["exp"]) + LEEWAY, UTC)
            db.add(DemoUsedDeepLinkResponse(jti=jti, expires_at=max(expires, now)))
            db.flush()  # two posts at once: the second fails here, on the primary key
            for item in items:
                if not isinstance(item, dict) or item.get("type") != "ltiResourceLink":
                    raise DemoError("this course accepts only ltiResourceLink items")
                created.append(_create_link(db, item, COURSE_ID).title)
    except IntegrityError:
        raise DemoError(_replayed()) from None
    for title in created:
        flash(_("Activity added: %(title)s", title=title))
    for message in (claims.get(DL_MSG), claims.get(DL_ERRORMSG)):
        if isinstance(message, str) and message.strip():
            flash(message.strip()[:500])
    if not created:
        flash(_("The tool returned no activity."))
    log.info("demo LMS deep link", extra={"links_created": len(created)})
    return redirect(settings.issuer + "/", code=303)
