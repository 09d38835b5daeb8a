"""What the learner, instructor and admin pages share: the launch's link and scope,
translated messages, and reading ids from forms.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import flash, request, session
from flask_babel import format_datetime, gettext
from sqlalchemy import select

from lti_app import ids, request_db
from lti_app.auth import current_actor
from lti_app.db.models import Membership, ResourceLink
from lti_app.errors import AppError, NotFound
from lti_app.services import checklists
from lti_app.services.messages import UserError


class NotSetUp(AppError):
    status = 409
    title = "Not set up yet"
    code = "checklist.not_set_up"


def scope() -> checklists.Scope:
    """The scope of the launch's link; a clear error when the launch has none."""
    actor = current_actor()
    link = (
        request_db.session().get(ResourceLink, actor.resource_link_id)
        if actor.resource_link_id is not None
        else None
    )
    if link is None:
        raise NotSetUp(
            gettext("This page belongs to a course activity: launch it from the course.")
        )
    found = checklists.link_scope(request_db.session(), link)
    if found is None:
        raise NotSetUp(
            gettext("This activity is not set up yet: an instructor must choose its framework.")
        )
    return found


def course_learner(learner_id: int) -> None:
    """404 unless ``learner_id`` is (or was) a learner of the launch's course."""
    actor = current_actor()
    found = request_db.session().scalar(
        select(Membership.id).where(
            Membership.context_id == actor.context_id,
            Membership.user_id == learner_id,
            Membership.is_learner.is_(True),
        )
    )
    if found is None:
        raise NotFound(gettext("There is no such learner in this course."))


def nav_context() -> dict[str, Any]:
    """The launch's menu, for the templates of the learner, instructor and admin pages."""
    try:
        actor = current_actor()
    except AppError:  # the error page of a request without a live launch: no menu
        return {"nav_items": [], "credential_href": credential_href}
    items: list[tuple[str, str]] = []
    has_link = actor.resource_link_id is not None
    if has_link and actor.is_learner:
        items.append(("learner.checklist", gettext("My checklist")))
    if has_link and actor.is_instructor:
        items += [
            ("instructor.grid", gettext("Sign-off grid")),
            ("instructor.requests_queue", gettext("Requests")),
            ("instructor.cohort", gettext("Cohort")),
        ]
    if actor.is_admin:
        items.append(("admin.index", gettext("Admin")))
    return {
        "actor": actor,
        "nav_items": items,
        "credential_href": credential_href,
        "return_url": session.get("_return_url"),  # launch_presentation.return_url
    }


def credential_href(credential_id: uuid.UUID) -> str:
    """The credential's public page (served by the credentials pages, outside the launch)."""
    return f"{request.script_root}/credentials/{credential_id}"


def _localize(value: Any) -> Any:
    return format_datetime(value) if isinstance(value, datetime) else value


def message(exc: AppError) -> str:
    """The error in the reader's language where the service marked it for translation."""
    if isinstance(exc, UserError):
        params = {k: _localize(v) for k, v in exc.params.items()}
        return gettext(exc.msgid, **params) if params else gettext(exc.msgid)
    return exc.detail


def flash_error(exc: AppError) -> None:
    flash(message(exc), "error")


def form_uuid(name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.form.get(name, ""))
    except ValueError:
        raise AppError(gettext("The form is missing a valid %(field)s.", field=name)) from None


def form_uuids(name: str) -> list[uuid.UUID]:
    values = []
    for raw in request.form.getlist(name):
        try:
            values.append(uuid.UUID(raw))
        except ValueError:
            raise AppError(gettext("The form is missing a valid %(field)s.", field=name)) from None
    return list(dict.fromkeys(values))


def form_ints(name: str) -> list[int]:
    """Database ids from a form field (repeated); a 400 naming the field if one is not."""
    values = [ids.form_id(name, raw) for raw in request.form.getlist(name)]
    return list(dict.fromkeys(values))


def when(value: datetime | None) -> str:
    return format_datetime(value) if value is not None else ""
