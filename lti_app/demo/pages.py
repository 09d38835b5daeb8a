"""The demo LMS's pages for people: the course, launching, deep linking, scores."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from lti_app.demo.models import DemoCourse, DemoLineItem, DemoLink, DemoScore, DemoUser
from lti_app.demo.platform import DemoPlatform
from lti_app.demo.seed import COURSE_ID, enrollments
from lti_app.i18n import LANGUAGES, NAMES

bp = Blueprint("pages", __name__)

SESSION_USER = "demo_user"


def platform() -> DemoPlatform:
    return current_app.extensions["demo_lms.platform"]


def _login_redirect(hint: dict[str, Any], user_id: str, target: str) -> Response:
    """Start the OIDC third-party-initiated login at the tool, as the chosen person."""
    settings = platform().settings
    session[SESSION_USER] = user_id  # the demo's "signed in as": /auth checks it
    params = {
        "iss": settings.issuer,
        "login_hint": user_id,
        "target_link_uri": target,
        "lti_message_hint": platform().make_hint(hint),
        "client_id": settings.client_id,
        "lti_deployment_id": settings.deployment_id,
    }
    return redirect(f"{settings.tool_login_url}?{urlencode(params)}", code=302)


@bp.get("/")
def home() -> str:
    with platform().transaction() as db:
        course = db.get(DemoCourse, COURSE_ID)
        people = enrollments(db, COURSE_ID)
        links = db.scalars(
            select(DemoLink).where(DemoLink.course_id == COURSE_ID).order_by(DemoLink.created_at)
        ).all()
    staff = [(u, e) for u, e in people if e.role in ("instructor", "ta")]
    return render_template(
        "demo/home.html",
        course=course,
        people=people,
        staff=staff,
        links=links,
        role_names={
            "instructor": _("Instructor"),
            "ta": _("Teaching assistant"),
            "learner": _("Learner"),
        },
        settings=platform().settings,
        language_names=NAMES,
    )


def _member(db: Any, user_id: str) -> tuple[DemoUser, str]:
    for user, enrollment in enrollments(db, COURSE_ID):
        if user.id == user_id:
            return user, enrollment.role
    abort(400, description=_("Choose a person enrolled in the course."))


@bp.post("/launch")
def launch() -> Response:
    link_id = request.form.get("link_id", "")
    user_id = request.form.get("user_id", "")
    with platform().transaction() as db:
        link = db.get(DemoLink, link_id)
        if link is None or link.course_id != COURSE_ID:
            abort(404, description=_("That activity does not exist."))
        _member(db, user_id)
        target = link.url
    return _login_redirect({"type": "launch", "link": link_id, "user": user_id}, user_id, target)


@bp.post("/deep-link")
def deep_link() -> Response:
    user_id = request.form.get("user_id", "")
    with platform().transaction() as db:
        _user, role = _member(db, user_id)
    if role not in ("instructor", "ta"):
        abort(403, description=_("Only the instructor or a teaching assistant can add activities."))
    settings = platform().settings
    return _login_redirect(
        {"type": "deep_link", "course": COURSE_ID, "user": user_id},
        user_id,
        settings.tool_launch_url,
    )


@bp.post("/people/<user_id>/language")
def person_language(user_id: str) -> Response:
    """The language a person's launches carry (the LTI ``locale`` claim): the tool's default
    for them until they choose another in its menu."""
    locale = request.form.get("locale", "")
    if locale not in LANGUAGES:
        abort(400, description=_("Choose one of the languages offered."))
    with platform().transaction() as db:
        user, _role = _member(db, user_id)
        user.locale = locale
    return redirect(url_for("pages.home", _anchor="people-heading"), code=303)


@bp.get("/scores")
def scores() -> str:
    with platform().transaction() as db:
        items = db.scalars(
            select(DemoLineItem)
            .where(DemoLineItem.course_id == COURSE_ID)
            .order_by(DemoLineItem.id)
        ).all()
        names = {u.id: u.name for u, _e in enrollments(db, COURSE_ID)}
        latest_ids = (
            select(func.max(DemoScore.id))
            .group_by(DemoScore.lineitem_id, DemoScore.user_id)
            .scalar_subquery()
        )
        latest = db.scalars(
            select(DemoScore).where(DemoScore.id.in_(latest_ids)).order_by(DemoScore.user_id)
        ).all()
        posts = dict(
            db.execute(
                select(DemoScore.lineitem_id, func.count()).group_by(DemoScore.lineitem_id)
            ).all()
        )
    by_item: dict[int, list[DemoScore]] = defaultdict(list)
    for score in latest:
        by_item[score.lineitem_id].append(score)
    return render_template(
        "demo/scores.html", items=items, by_item=by_item, names=names, posts=posts
    )
