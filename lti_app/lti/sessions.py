"""Launch sessions: a server-side session per launch, addressed by ``/s/<token>/``.

Why not the cookie session: an LMS frames the tool, browsers block or
partition third-party cookies, and two launches in two tabs (two courses)
must stay apart. So each launch gets a random token; every page of that
launch lives under ``/s/<token>/``, and for those paths ``flask.session`` is
the launch's ``data`` column (Flask-WTF's CSRF token included). Elsewhere the
ordinary signed cookie session (``skillsign_session``) applies.

When the launch was bound to the browser by our cookie, the session stays
bound to it: a copied URL does not work in another browser.

What the session may do in its course is read on every request from the user's
*current* membership row (joined in the same query that loads the session), not
from the roles the launch carried: a roster sync that drops or demotes someone
takes effect on their next click. A session also ends ``LAUNCH_SESSION_MAX_AGE``
after the launch however active it is, and at once when its user signs out.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import Flask, Request, Response, current_app, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from sqlalchemy import Table, and_, delete, insert, select, update
from sqlalchemy.orm import Session
from werkzeug.datastructures import CallbackDict

from lti_app import request_db
from lti_app.db import utcnow
from lti_app.db.models import LaunchSession, Membership, ResourceLink, User
from lti_app.lti.login import BROWSER_COOKIE
from lti_app.services.launches import LaunchRecord

TTL = timedelta(hours=8)  # sliding
# Absolute lifetime from the launch: the LAUNCH_SESSION_MAX_AGE setting, this without one.
MAX_AGE = timedelta(hours=12)
# The expiry is pushed forward at most this often, not on every request.
TOUCH_AFTER = timedelta(minutes=5)
PENDING_TTL = timedelta(minutes=2)  # a cookie-less launch must finish its storage check by then
PREFIX = "/s/"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
ACTIVE, PENDING = "active", "pending"


def session_key(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def token_from_path(path: str) -> str | None:
    if not path.startswith(PREFIX):
        return None
    token = path[len(PREFIX) :].split("/", 1)[0]
    return token if _TOKEN_RE.match(token) else ""


@dataclass(frozen=True)
class LaunchState:
    """A snapshot of a launch session row, taken when the request opened it.

    ``roles``, ``is_instructor`` and ``is_learner`` are the membership's as it is now;
    ``in_course`` is False when the user has no active membership in the session's
    course any more (the roster dropped them): then they grant nothing.
    """

    key: str
    user_id: int
    platform_id: int
    context_id: int | None
    resource_link_id: int | None
    message_type: str
    roles: tuple[str, ...]
    is_instructor: bool
    is_learner: bool
    is_admin: bool
    is_tool_admin: bool
    locale: str | None
    expires_at: datetime
    created_at: datetime
    in_course: bool = True
    ui_locale: str | None = None  # the user's chosen language, read with the session


_INSERT = insert(cast("Table", LaunchSession.__table__))  # a mapped class's table: a Table


def create(
    session: Session,
    record: LaunchRecord,
    *,
    browser_hash: str | None,
    pending: bool,
    data: dict[str, Any] | None = None,
) -> str:
    """Store a launch session and return its token (shown only in URLs)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    # A Core INSERT: nothing in the request uses the row as an object, and the ORM's unit of
    # work for this one row was a fifth of the launch POST's time under py-spy.
    session.connection().execute(
        _INSERT,
        {
            "key": session_key(token),
            "status": PENDING if pending else ACTIVE,
            "user_id": record.user_id,
            "platform_id": record.platform_id,
            "context_id": record.context_id,
            "resource_link_id": record.resource_link_id,
            "message_type": record.message_type,
            "roles": list(record.roles.membership),
            "is_instructor": record.roles.is_instructor,
            "is_learner": record.roles.is_learner,
            "is_admin": record.roles.is_admin or record.is_tool_admin,
            "is_tool_admin": record.is_tool_admin,
            "locale": record.locale,
            "browser_hash": browser_hash,
            "data": dict(data or {}),
            "created_at": now,
            "expires_at": now + (PENDING_TTL if pending else TTL),
        },
    )
    return token


def end(session: Session, *, key: str | None = None, user_id: int | None = None) -> int:
    """Delete launch sessions: one (by key), a user's, or every one (neither given)."""
    query = delete(LaunchSession)
    if key is not None:
        query = query.where(LaunchSession.key == key)
    if user_id is not None:
        query = query.where(LaunchSession.user_id == user_id)
    return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]


def max_age(app: Flask | None = None) -> timedelta:
    value = (app or current_app).config.get("LAUNCH_SESSION_MAX_AGE")
    return value if isinstance(value, timedelta) else MAX_AGE


def activate(session: Session, token: str) -> bool:
    """Turn a pending session active once the browser proved the platform storage check."""
    updated = session.execute(
        update(LaunchSession)
        .where(
            LaunchSession.key == session_key(token),
            LaunchSession.status == PENDING,
            LaunchSession.expires_at > utcnow(),
        )
        .values(status=ACTIVE, expires_at=utcnow() + TTL)
        .returning(LaunchSession.key)
    ).first()
    return updated is not None


class LaunchSessionData(CallbackDict, SessionMixin):
    """``flask.session`` on a launch page: the launch session's ``data``."""

    def __init__(
        self, data: dict[str, Any], state: LaunchState | None, problem: str | None
    ) -> None:
        def on_update(_self: CallbackDict) -> None:
            self.modified = True

        super().__init__(data, on_update)
        self.state = state
        self.problem = problem  # why there is no usable launch session
        self.resource_link: ResourceLink | None = None  # loaded with the session
        self.modified = False


# The session, the user's current membership in its course and the session's resource link,
# in one round trip. The link lands in the request's identity map, so the page's own
# ``Session.get(ResourceLink, ...)`` (every checklist page reads it) costs no query.
_WITH_MEMBERSHIP = (
    select(
        LaunchSession,
        Membership.roles,
        Membership.is_instructor,
        Membership.is_learner,
        Membership.active,
        ResourceLink,
        User.ui_locale,
    )
    .outerjoin(
        Membership,
        and_(
            Membership.context_id == LaunchSession.context_id,
            Membership.user_id == LaunchSession.user_id,
        ),
    )
    .outerjoin(ResourceLink, ResourceLink.id == LaunchSession.resource_link_id)
    # The language the person chose in the menu (i18n.py), read here and not by a query of
    # its own on every page.
    .outerjoin(User, User.id == LaunchSession.user_id)
)


def _load(token: str, req: Request) -> LaunchSessionData:
    if not token:
        return LaunchSessionData({}, None, "malformed")
    found = (
        request_db.session()
        .execute(_WITH_MEMBERSHIP.where(LaunchSession.key == session_key(token)))
        .first()
    )
    now = utcnow()
    if found is None:
        return LaunchSessionData({}, None, "expired")
    row, roles, is_instructor, is_learner, active, link, ui_locale = found
    if row.expires_at <= now or now - row.created_at >= max_age():
        return LaunchSessionData({}, None, "expired")
    if row.status != ACTIVE:
        return LaunchSessionData({}, None, "pending")
    if row.browser_hash is not None:
        cookie = req.cookies.get(BROWSER_COOKIE, "")
        if hashlib.sha256(cookie.encode("utf-8")).hexdigest() != row.browser_hash:
            return LaunchSessionData({}, None, "other_browser")
    # Course rights come from the membership as it is now; administrator rights from the
    # launch (platform roles are not in a course roster; tool admins from `admins`).
    in_course = row.context_id is not None and bool(active)
    state = LaunchState(
        key=row.key,
        user_id=row.user_id,
        platform_id=row.platform_id,
        context_id=row.context_id,
        resource_link_id=row.resource_link_id,
        message_type=row.message_type,
        roles=tuple(roles or ()) if in_course else (),
        is_instructor=in_course and bool(is_instructor),
        is_learner=in_course and bool(is_learner),
        is_admin=row.is_admin,
        is_tool_admin=row.is_tool_admin,
        locale=row.locale,
        expires_at=row.expires_at,
        created_at=row.created_at,
        in_course=in_course,
        ui_locale=ui_locale,
    )
    data = LaunchSessionData(dict(row.data or {}), state, None)
    # The identity map holds objects weakly: this reference keeps the link there for the
    # request, so the page's Session.get finds it without a query.
    data.resource_link = link
    return data


class SkillsignSessionInterface(SecureCookieSessionInterface):
    """Launch sessions under ``/s/<token>/``, the signed cookie elsewhere.

    Cookie attributes follow the request: ``SameSite=None; Secure`` over HTTPS
    (the tool lives in the LMS's frame), ``Lax`` over plain HTTP (development).
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request) and request.is_secure

    def get_cookie_samesite(self, app: Flask) -> str:
        return "None" if request and request.is_secure else "Lax"

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:  # type: ignore[override]
        token = token_from_path(request.path)
        if token is None:
            return super().open_session(app, request)
        return _load(token, request)

    def is_null_session(self, obj: object) -> bool:
        if isinstance(obj, LaunchSessionData):
            return obj.state is None
        return super().is_null_session(obj)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, LaunchSessionData):
            super().save_session(app, session, response)
            return
        state = session.state
        if state is None:
            return
        now = utcnow()
        changes: dict[str, Any] = {}
        if session.modified:
            changes["data"] = dict(session)
        # Slide the expiry (at most every TOUCH_AFTER), never past the absolute lifetime.
        target = min(now + TTL, state.created_at + max_age(app))
        if target - state.expires_at > TOUCH_AFTER:
            changes["expires_at"] = target
        if not changes:
            return
        # The request's own transaction has already ended (Flask saves the session
        # after the after_request hooks): this write gets its own.
        with request_db.database(app).transaction() as db:
            db.execute(
                update(LaunchSession).where(LaunchSession.key == state.key).values(**changes)
            )


def init_app(app: Flask) -> None:
    app.session_interface = SkillsignSessionInterface()
    app.config["SESSION_COOKIE_NAME"] = "skillsign_session"
