"""Who is asking: the actor of a launch session, and decorators that demand one.

Pages of a launch are made with ``launch_blueprint()``: they live under
``/s/<ls>/`` and ``url_for`` fills ``ls`` in from the current request, so
templates never handle the token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, g, session
from flask_babel import gettext

from lti_app.errors import Forbidden
from lti_app.lti.sessions import LaunchSessionData
from lti_app.services.messages import N_, UserError

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("skillsign.auth")

# Whole sentences, so each is translated as one (the error page shows it in the page's
# language; logs and problem+json keep the English).
_PROBLEMS = {
    "expired": N_("Your skillsign session has expired. Launch skillsign again from your course."),
    "malformed": N_(
        "This skillsign address is not valid. Launch skillsign again from your course."
    ),
    "pending": N_("This launch was not completed. Launch skillsign again from your course."),
    "other_browser": N_(
        "This skillsign session belongs to another browser. Launch skillsign again from your "
        "course."
    ),
}
_NO_LAUNCH = N_(
    "This page belongs to a launch from your course. Launch skillsign again from your course."
)


class SessionExpired(UserError):
    status = 401
    title = N_("Session expired")
    code = "auth.session_expired"


class RoleChanged(Forbidden):
    """The session's user is no longer an active member of its course."""

    code = "auth.role_changed"


@dataclass(frozen=True)
class Actor:
    """The person behind the current launch session and what they may do in its course.

    ``is_admin`` is true for an administrator of the launching platform (system or
    institution Administrator role) and for users listed in ``admins``;
    ``is_tool_admin`` only for the latter: platform-wide checks must also
    compare ``platform_id``. ``roles``, ``is_instructor`` and ``is_learner`` are those of
    the user's membership as it is on this request, not as it was at launch.
    """

    user_id: int
    platform_id: int
    context_id: int | None
    resource_link_id: int | None
    roles: tuple[str, ...]
    is_instructor: bool
    is_learner: bool
    is_admin: bool
    locale: str | None
    session_id: str  # the launch session's key (a hash; never the token itself)
    message_type: str = "LtiResourceLinkRequest"
    is_tool_admin: bool = False


def current_actor() -> Actor:
    """The actor of this request's launch session, or a clear 'launch again' error."""
    actor = g.get("actor")
    if actor is not None:
        return actor
    refused = g.get("actor_refused")
    if refused is not None:  # the error page of this request asks again: same answer, no log
        raise refused
    data = session._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(data, LaunchSessionData) or data.state is None:
        problem = getattr(data, "problem", None) if isinstance(data, LaunchSessionData) else None
        raise SessionExpired(_PROBLEMS.get(problem or "", _NO_LAUNCH))
    state = data.state
    g.launch_locale = state.locale  # the refusal below is worded in the launch's language
    g.launch_user_id = state.user_id  # and in the language the person chose (i18n.py)
    g.launch_ui_locale = state.ui_locale  # read with the session: no query of its own
    if state.context_id is not None and not state.in_course and not state.is_admin:
        # Dropped from the course since the launch (roster sync, or an inactive status):
        # nothing of the course any more. Administrators keep their admin pages.
        log.warning(
            "launch session refused: no active membership in its course",
            extra={"user_id": state.user_id, "context_id": state.context_id},
        )
        g.actor_refused = RoleChanged(
            gettext(
                "Your role in this course has changed; launch skillsign again from your course."
            ),
            title=gettext("Not allowed"),
        )
        raise g.actor_refused
    actor = Actor(
        user_id=state.user_id,
        platform_id=state.platform_id,
        context_id=state.context_id,
        resource_link_id=state.resource_link_id,
        roles=state.roles,
        is_instructor=state.is_instructor,
        is_learner=state.is_learner,
        is_admin=state.is_admin,
        locale=state.locale,
        session_id=state.key,
        message_type=state.message_type,
        is_tool_admin=state.is_tool_admin,
    )
    g.actor = actor
    return actor


def require_launch(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        current_actor()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def require_instructor(view: F) -> F:
    """Instructors and TAs of this course (membership roles only)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_actor().is_instructor:
            raise Forbidden(
                gettext("Only the course's instructors and teaching assistants can do this.")
            )
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def require_admin(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_actor().is_admin:
            raise Forbidden(gettext("Only skillsign administrators can do this."))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def launch_blueprint(name: str, import_name: str, **kwargs: Any) -> Blueprint:
    """A blueprint whose pages live under ``/s/<ls>/`` and need a launch session."""
    bp = Blueprint(name, import_name, url_prefix="/s/<ls>", **kwargs)

    @bp.url_value_preprocessor
    def _take_token(_endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values is not None:
            g.ls = values.pop("ls", None)
        current_actor()  # every launch page needs a live session; this also sets the locale

    return bp


def _fill_token(endpoint: str, values: dict[str, Any]) -> None:
    if "ls" in values or not g.get("ls"):
        return
    try:
        expecting = current_app.url_map.is_endpoint_expecting(endpoint, "ls")
    except KeyError:  # unknown endpoint: let url_for report it (BuildError)
        return
    if expecting:
        values["ls"] = g.ls


def init_app(app: Flask) -> None:
    # App-wide, so a page of one launch blueprint links to another's without passing ls.
    app.url_defaults(_fill_token)
