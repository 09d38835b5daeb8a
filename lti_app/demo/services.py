"""The demo LMS's LTI Advantage services: OAuth2 token, NRPS and AGS.

Tokens are issued for the client-credentials grant with a ``private_key_jwt``
client assertion checked against the tool's JWKS (1EdTech Security Framework
1.0, 4.1). The gradebook behaves like Canvas where it matters to a tool: a
score for someone who is not a learner is refused with a 422, and a score
older than the stored one with a 400.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lti_app.db.base import utcnow
from lti_app.demo.messages import (
    ALL_SCOPES,
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_NRPS,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
)
from lti_app.demo.models import (
    DemoAccessToken,
    DemoCourse,
    DemoLineItem,
    DemoLink,
    DemoScore,
    DemoUsedAssertion,
)
from lti_app.demo.pages import platform
from lti_app.demo.platform import DemoError, token_hash
from lti_app.demo.seed import enrollments

log = logging.getLogger("skillsign.demo_lms")

bp = Blueprint("services", __name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 3600
MEDIA_LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_LINEITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MEDIA_RESULTS = "application/vnd.ims.lis.v2.resultcontainer+json"
MEDIA_MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
ACTIVITY = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}
MAX_PAGE = 100


def _json(body: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    response = jsonify(body)
    response.status_code = status
    response.mimetype = mimetype
    return response


# -- OAuth2 token endpoint ----------------------------------------------------------
@bp.post("/token")
def token() -> Response:
    form = request.form
    if form.get("grant_type") != "client_credentials":
        raise DemoError("grant_type must be client_credentials", code="unsupported_grant_type")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise DemoError(f"client_assertion_type must be {ASSERTION_TYPE}", code="invalid_client")
    assertion = form.get("client_assertion", "")
    if not assertion:
        raise DemoError("client_assertion is missing", code="invalid_client")
    settings = platform().settings
    claims = platform().verify_tool_jwt(
        assertion, audience=(settings.token_url, settings.issuer), what="client assertion"
    )
    if claims.get("sub") != settings.client_id:
        raise DemoError("client assertion sub must be the client_id", code="invalid_client")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise DemoError("client assertion has no jti", code="invalid_client")
    requested = set(form.get("scope", "").split())
    granted = sorted(requested & set(ALL_SCOPES))
    if not granted:
        raise DemoError("none of the requested scopes is offered", code="invalid_scope")
    now = utcnow()
    value = secrets.token_urlsafe(32)
    with platform().transaction() as db:
        db.execute(delete(DemoUsedAssertion).where(DemoUsedAssertion.expires_at < now))
        db.execute(delete(DemoAccessToken).where(DemoAccessToken.expires_at < now))
        if db.get(DemoUsedAssertion, jti) is not None:
            raise DemoError("client assertion already used (jti replay)", code="invalid_client")
        db.add(DemoUsedAssertion(jti=jti[:255], expires_at=now + timedelta(minutes=10)))
        db.add(
            DemoAccessToken(
                token_hash=token_hash(value),
                scopes=granted,
                expires_at=now + timedelta(seconds=TOKEN_LIFETIME),
            )
        )
    log.info("demo LMS token issued", extra={"scopes": len(granted)})
    response = _json(
        {
            "access_token": value,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "scope": " ".join(granted),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _authorize(db: Session, *scopes: str) -> None:
    """The bearer token must be live and carry one of ``scopes``."""
    header = request.headers.get("Authorization", "")
    kind, _, value = header.partition(" ")
    if kind.lower() != "bearer" or not value:
        raise DemoError("missing bearer token", status=401, code="unauthorized")
    row = db.get(DemoAccessToken, token_hash(value.strip()))
    if row is None or row.expires_at <= utcnow():
        raise DemoError("Access token expired or unknown", status=401, code="unauthorized")
    if not set(scopes) & set(row.scopes):
        raise DemoError("the token's scopes do not allow this", status=403, code="forbidden")


def _course(db: Session, course_id: str) -> DemoCourse:
    course = db.get(DemoCourse, course_id)
    if course is None:
        raise DemoError("no such course", status=404, code="not_found")
    return course


def _page() -> tuple[int, int]:
    try:
        limit = min(MAX_PAGE, max(1, int(request.args.get("limit", MAX_PAGE))))
        offset = max(0, int(request.args.get("offset", 0)))
    except ValueError:
        raise DemoError("limit and offset must be whole numbers") from None
    return limit, offset


def _with_next(response: Response, total: int, limit: int, offset: int) -> Response:
    if offset + limit < total:
        args = request.args.to_dict() | {"limit": str(limit), "offset": str(offset + limit)}
        response.headers["Link"] = (
            f'<{request.base_url}?{urlencode(sorted(args.items()))}>; rel="next"'
        )
    return response


# -- NRPS ---------------------------------------------------------------------------
@bp.get("/api/courses/<course_id>/memberships")
def memberships(course_id: str) -> Response:
    settings = platform().settings
    with platform().transaction() as db:
        _authorize(db, SCOPE_NRPS)
        course = _course(db, course_id)
        role = request.args.get("role")
        members = [
            {
                "status": enrollment.status,
                "user_id": user.id,
                "roles": list(enrollment.roles),
                "name": user.name,
                "given_name": user.given_name,
                "family_name": user.family_name,
                **({"email": user.email} if user.email else {}),
            }
            for user, enrollment in enrollments(db, course.id)
            if not role or any(r == role or r.endswith("#" + role) for r in enrollment.roles)
        ]
        limit, offset = _page()
        body = {
            "id": settings.memberships_url(course.id),
            "context": {"id": course.id, "label": course.label, "title": course.title},
            "members": members[offset : offset + limit],
        }
    return _with_next(_json(body, mimetype=MEDIA_MEMBERSHIPS), len(members), limit, offset)


# -- AGS line items -----------------------------------------------------------------
def _lineitem_json(item: DemoLineItem) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": platform().settings.lineitem_url(item.course_id, item.id),
        "label": item.label,
        "scoreMaximum": item.score_maximum,
    }
    for key, value in (
        ("resourceLinkId", item.resource_link_id),
        ("resourceId", item.resource_id),
        ("tag", item.tag),
    ):
        if value:
            body[key] = value
    return body


def _lineitem(db: Session, course_id: str, lineitem_id: int) -> DemoLineItem:
    item = db.get(DemoLineItem, lineitem_id)
    if item is None or item.course_id != course_id:
        raise DemoError("line item not found", status=404, code="not_found")
    return item


def _lineitem_fields(db: Session, course_id: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise DemoError("the body must be a JSON line item")
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        raise DemoError("label is required")
    maximum = body.get("scoreMaximum")
    if isinstance(maximum, bool) or not isinstance(maximum, int | float) or maximum <= 0:
        raise DemoError("scoreMaximum must be a number greater than 0")
    link_id = body.get("resourceLinkId")
    if link_id is not None:
        link = db.get(DemoLink, link_id) if isinstance(link_id, str) else None
        if link is None or link.course_id != course_id:
            raise DemoError("resourceLinkId is not a link of this course")
    return {
        "label": label.strip()[:255],
        "score_maximum": float(maximum),
        "resource_link_id": link_id,
        "resource_id": body.get("resourceId") if isinstance(body.get("resourceId"), str) else None,
        "tag": body.get("tag") if isinstance(body.get("tag"), str) else None,
    }


@bp.route("/api/courses/<course_id>/lineitems", methods=["GET", "POST"])
def lineitems(course_id: str) -> Response:
    with platform().transaction() as db:
        if request.method == "POST":
            _authorize(db, SCOPE_LINEITEM)
            _course(db, course_id)
            item = DemoLineItem(
                course_id=course_id,
                **_lineitem_fields(db, course_id, request.get_json(silent=True)),
            )
            db.add(item)
            db.flush()
            return _json(_lineitem_json(item), 201, MEDIA_LINEITEM)
        _authorize(db, SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY)
        _course(db, course_id)
        query = select(DemoLineItem).where(DemoLineItem.course_id == course_id)
        for arg, column in (
            ("resource_link_id", DemoLineItem.resource_link_id),
            ("resource_id", DemoLineItem.resource_id),
            ("tag", DemoLineItem.tag),
        ):
            if request.args.get(arg):
                query = query.where(column == request.args[arg])
        items = [_lineitem_json(i) for i in db.scalars(query.order_by(DemoLineItem.id))]
    limit, offset = _page()
    return _with_next(
        _json(items[offset : offset + limit], mimetype=MEDIA_LINEITEMS), len(items), limit, offset
    )


@bp.route("/api/courses/<course_id>/lineitems/<dbid:lineitem_id>", methods=["GET", "PUT", "DELETE"])
def lineitem(course_id: str, lineitem_id: int) -> Response:
    with platform().transaction() as db:
        if request.method == "GET":
            _authorize(db, SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY)
            return _json(
                _lineitem_json(_lineitem(db, course_id, lineitem_id)), mimetype=MEDIA_LINEITEM
            )
        _authorize(db, SCOPE_LINEITEM)
        item = _lineitem(db, course_id, lineitem_id)
        if request.method == "DELETE":
            db.delete(item)
            return Response(status=204)
        for key, value in _lineitem_fields(db, course_id, request.get_json(silent=True)).items():
            setattr(item, key, value)
        return _json(_lineitem_json(item), mimetype=MEDIA_LINEITEM)


# -- AGS scores and results ---------------------------------------------------------
def _timestamp(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise DemoError(f"Provided timestamp of {value} not a valid timestamp")
    return moment


@bp.post("/api/courses/<course_id>/lineitems/<dbid:lineitem_id>/scores")
def scores(course_id: str, lineitem_id: int) -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise DemoError("the body must be a JSON score")
    with platform().transaction() as db:
        _authorize(db, SCOPE_SCORE)
        item = _lineitem(db, course_id, lineitem_id)
        for name in ("userId", "activityProgress", "gradingProgress", "timestamp"):
            if name not in body:
                raise DemoError(f"{name} is required", status=400)
        learners = {u.id for u, e in enrollments(db, course_id) if e.role == "learner"}
        user_id = body["userId"]
        if user_id not in learners:
            # Canvas's exact refusal, so a tool's handling of it can be tried here.
            return _json(
                {
                    "errors": {
                        "type": "unprocessable_entity",
                        "message": "User not found in course or is not a student",
                    }
                },
                422,
            )
        if body["activityProgress"] not in ACTIVITY or body["gradingProgress"] not in GRADING:
            raise DemoError("activityProgress or gradingProgress has an unknown value", status=422)
        given, maximum = body.get("scoreGiven"), body.get("scoreMaximum")
        if given is not None:
            numbers = (given, maximum)
            if any(isinstance(n, bool) or not isinstance(n, int | float) for n in numbers):
                raise DemoError("scoreGiven needs a numeric scoreMaximum", status=422)
            assert maximum is not None  # a number: checked just above
            if given < 0 or maximum <= 0:
                raise DemoError("scoreGiven must be >= 0 and scoreMaximum > 0", status=422)
        moment = _timestamp(body["timestamp"])
        last = db.scalar(
            select(func.max(DemoScore.timestamp)).where(
                DemoScore.lineitem_id == item.id, DemoScore.user_id == user_id
            )
        )
        if last is not None and moment < last:
            raise DemoError(
                f"Provided timestamp of {body['timestamp']} before last updated timestamp "
                f"of {last.isoformat(timespec='milliseconds')}"
            )
        db.add(
            DemoScore(
                lineitem_id=item.id,
                user_id=user_id,
                score_given=float(given) if given is not None else None,
                score_maximum=float(maximum) if maximum is not None else None,
                activity_progress=body["activityProgress"],
                grading_progress=body["gradingProgress"],
                comment=body.get("comment") if isinstance(body.get("comment"), str) else None,
                timestamp=moment,
            )
        )
    log.info("demo LMS score received", extra={"lineitem": lineitem_id, "user": user_id})
    return _json({"resultUrl": f"{request.base_url.rsplit('/', 1)[0]}/results?user_id={user_id}"})


@bp.get("/api/courses/<course_id>/lineitems/<dbid:lineitem_id>/results")
def results(course_id: str, lineitem_id: int) -> Response:
    settings = platform().settings
    with platform().transaction() as db:
        _authorize(db, SCOPE_RESULT_READONLY)
        item = _lineitem(db, course_id, lineitem_id)
        latest = (
            select(func.max(DemoScore.id))
            .where(DemoScore.lineitem_id == item.id)
            .group_by(DemoScore.user_id)
        )
        query = select(DemoScore).where(DemoScore.id.in_(latest))
        if request.args.get("user_id"):
            query = query.where(DemoScore.user_id == request.args["user_id"])
        rows = db.scalars(query.order_by(DemoScore.user_id)).all()
        url = settings.lineitem_url(course_id, item.id)
        body = [
            {
                "id": f"{url}/results/{row.user_id}",
                "scoreOf": url,
                "userId": row.user_id,
                "resultScore": row.score_given,
                "resultMaximum": row.score_maximum,
                **({"comment": row.comment} if row.comment else {}),
            }
            for row in rows
        ]
    limit, offset = _page()
    return _with_next(
        _json(body[offset : offset + limit], mimetype=MEDIA_RESULTS), len(body), limit, offset
    )
