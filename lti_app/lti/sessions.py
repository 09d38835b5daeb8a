"""Launch sessions: a server-side session per launch, addressed by ``/s/<token>/``.

Why not the cookie session: an LMS frames the tool, browsers block or
partition third-party cookies, and two launches in two tabs (two courses)
must stay apart. So each launch gets a random token; every page of that
launch lives under ``/s/<token>/``, and for those paths ``flask.session`` is
the launch's ``data`` column (Flask-WTF's CSRF token included). Elsewhere the
ordinary signed cookie session (``skillsign_session``) applies.

When the launch was bound to the browser by our cookie, the session stays
bound to it: a copied URL does not work in another browser.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from sqlalchemy import update
from sqlalchemy.orm import Session
from werkzeug.datastructures import CallbackDict

from lti_app import request_db
from lti_app.db import utcnow
from lti_app.db.models import LaunchSession
from lti_app.lti.login import BROWSER_COOKIE
from lti_app.services.launches import LaunchRecord

TTL = timedelta(hours=8)  # sliding
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
    """A snapshot of a launch session row, taken when the request opened it."""

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
    session.add(
        LaunchSession(
            key=session_key(token),
            status=PENDING if pending else ACTIVE,
            user_id=record.user_id,
            platform_id=record.platform_id,
            context_id=record.context_id,
            resource_link_id=record.resource_link_id,
            message_type=record.message_type,
            roles=list(record.roles.membership),
            is_instructor=record.roles.is_instructor,
            is_learner=record.roles.is_learner,
            is_admin=record.roles.is_admin or record.is_tool_admin,
            is_tool_admin=record.is_tool_admin,
            locale=record.locale,
            browser_hash=browser_hash,
            data=dict(data or {}),
            created_at=now,
            expires_at=now + (PENDING_TTL if pending else TTL),
        )
    )
    session.flush()
    return token


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


class LaunchSessionData(CallbackDict, SessionMixin):  # type: ignore[type-arg]
    """``flask.session`` on a launch page: the launch session's ``data``."""

    def __init__(
        self, data: dict[str, Any], state: LaunchState | None, problem: str | None
    ) -> None:
        def on_update(_self: CallbackDict) -> None:  # type: ignore[type-arg]
            self.modified = True

        super().__init__(data, on_update)
        self.state = state
        self.problem = problem  # why there is no usable launch session
        self.modified = False


def _load(token: str, req: Request) -> LaunchSessionData:
    if not token:
        return LaunchSessionData({}, None, "malformed")
    row = request_db.session().get(LaunchSession, session_key(token))
    if row is None or row.expires_at <= utcnow():
        return LaunchSessionData({}, None, "expired")
    if row.status != ACTIVE:
        return LaunchSessionData({}, None, "pending")
    if row.browser_hash is not None:
        cookie = req.cookies.get(BROWSER_COOKIE, "")
        if hashlib.sha256(cookie.encode("utf-8")).hexdigest() != row.browser_hash:
            return LaunchSessionData({}, None, "other_browser")
    state = LaunchState(
        key=row.key,
        user_id=row.user_id,
        platform_id=row.platform_id,
        context_id=row.context_id,
        resource_link_id=row.resource_link_id,
        message_type=row.message_type,
        roles=tuple(row.roles or ()),
        is_instructor=row.is_instructor,
        is_learner=row.is_learner,
        is_admin=row.is_admin,
        is_tool_admin=row.is_tool_admin,
        locale=row.locale,
        expires_at=row.expires_at,
    )
    return LaunchSessionData(dict(row.data or {}), state, None)


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

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:  # type: ignore[override]
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
        if state.expires_at - now < TTL - TOUCH_AFTER:
            changes["expires_at"] = now + TTL
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
