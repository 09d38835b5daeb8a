"""Pages of a launch (``/s/<ls>/...``): landing, link setup, Deep Linking and sign-out.

The ``/lti/launch`` handler itself is in ``views/lti.py``; this blueprint keeps the name
``launch`` (endpoints ``launch.landing``, ``launch.setup``, ...) for the pages a launch
session leads to. The landing page is deliberately small: the checklist pages replace its
body.
"""

from __future__ import annotations

import uuid

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from lti_app import request_db
from lti_app.auth import current_actor, launch_blueprint, require_instructor
from lti_app.db.models import Context, ResourceLink, User
from lti_app.errors import Conflict, Forbidden
from lti_app.lms import claims as c
from lti_app.lms.roles import INSTRUCTOR_SUBROLE, TEACHING_ASSISTANT
from lti_app.lti import deep_linking
from lti_app.lti import sessions as launch_sessions
from lti_app.lti.jwks import platform_keys
from lti_app.lti.launch import LaunchPolicy, restore
from lti_app.lti.tool_conf import RegistryToolConf
from lti_app.lti.tool_keys import tool_keys
from lti_app.services import frameworks as framework_service
from lti_app.services import launches
from lti_app.services.messages import N_
from lti_app.views import checklist_pages as pages

bp = launch_blueprint("launch", __name__)


def _role_label() -> str:
    actor = current_actor()
    if actor.is_instructor:
        ta = any(
            r == TEACHING_ASSISTANT or r == INSTRUCTOR_SUBROLE + "TeachingAssistant"
            for r in actor.roles
        )
        return "teaching_assistant" if ta else "instructor"
    return "learner" if actor.is_learner else "none"


def _link() -> ResourceLink | None:
    actor = current_actor()
    if actor.resource_link_id is None:
        return None
    return request_db.session().get(ResourceLink, actor.resource_link_id)


@bp.get("/")
def landing() -> Response | str:
    actor = current_actor()
    if actor.message_type == c.DEEP_LINKING_REQUEST:
        return redirect(url_for(".deep_link"))
    db = request_db.session()
    link = _link()
    # Each role goes straight to its page: instructors and TAs to the grid, learners to
    # their checklist (a set-up link: no need to read the framework for a summary they never
    # see; every launch passes here), an administrator without a course role to the admin
    # pages, an instructor of a link not set up yet to its setup.
    if link is not None and link.framework_version_id is not None:
        if actor.is_instructor:
            return redirect(url_for("instructor.grid"), 303)
        if actor.is_learner:
            return redirect(url_for("learner.checklist"), 303)
    summary = launches.link_summary(db, link) if link else None
    if summary is None and actor.is_instructor:
        return redirect(url_for(".setup"))
    if actor.is_admin and not actor.is_learner:
        return redirect(url_for("admin.index"), 303)
    user = db.get(User, actor.user_id)
    context = db.get(Context, actor.context_id) if actor.context_id else None
    if summary is None:
        return render_template(
            "lti/not_set_up.html", user=user, context=context, role=_role_label()
        )
    return render_template(
        "lti/landing.html", user=user, context=context, role=_role_label(), linked=summary
    )


def _choice_from_form() -> launches.LinkChoice:
    db = request_db.session()
    raw_version = request.form.get("version", "")
    try:
        version_id = uuid.UUID(raw_version)
    except ValueError:
        raise launches.LinkChoiceError(N_("choose a framework version")) from None
    platform_id = current_actor().platform_id
    # Another platform's version is as absent as one that does not exist.
    if framework_service.find_version(db, str(version_id), scope=platform_id) is None:
        raise launches.LinkChoiceError(N_("the chosen framework version does not exist"))
    scope = request.form.get(f"scope:{version_id}", "all")
    levels = request.form.getlist(f"levels:{version_id}") if scope == "levels" else []
    if scope == "levels" and not levels:
        raise launches.LinkChoiceError(N_("choose at least one level, or the whole framework"))
    return launches.resolve_choice(db, platform_id, str(version_id), None, levels)


def _sentence(exc: launches.LinkChoiceError) -> str:
    """The reason as a sentence, in the page's language."""
    text = pages.message(exc)
    return text[:1].upper() + text[1:] + "."


def _choose_page(
    action: str, submit_label: str, error: str | None = None, status: int = 200
) -> tuple[str, int]:
    versions = framework_service.list_versions(
        request_db.session(), scope=current_actor().platform_id
    )
    notice = session.get("_link_notice")
    problem = session.get("_link_problem")
    if isinstance(problem, dict) and isinstance(problem.get("msgid"), str):
        reason = gettext(problem["msgid"], **dict(problem.get("params") or {}))
        notice = gettext("The link's custom parameters were not used: %(reason)s.", reason=reason)
    html = render_template(
        "lti/choose_framework.html",
        versions=versions,
        action=action,
        submit_label=submit_label,
        error=error,
        notice=notice,
        selected=request.form.get("version") if request.method == "POST" else None,
    )
    return html, status


@bp.route("/setup", methods=["GET", "POST"])
@require_instructor
def setup() -> Response | tuple[str, int]:
    actor = current_actor()
    link = _link()
    if link is None or actor.message_type != c.RESOURCE_LINK_REQUEST:
        raise Forbidden(gettext("Only a launch from a course link can set up that link."))
    if link.framework_version_id is not None:
        if request.method == "POST":
            raise Conflict(
                gettext("This link is already set up; a link stays with its framework version.")
            )
        return redirect(url_for(".landing"))
    label = gettext("Use for this link")
    if request.method == "GET":
        return _choose_page(url_for(".setup"), label)
    try:
        choice = _choice_from_form()
        launches.pin_link(request_db.session(), link, choice)
    except launches.LinkChoiceError as exc:
        return _choose_page(url_for(".setup"), label, error=_sentence(exc), status=400)
    return redirect(url_for(".landing"), 303)


@bp.route("/deep-link", methods=["GET", "POST"])
@require_instructor
def deep_link() -> Response | tuple[str, int]:
    actor = current_actor()
    if actor.message_type != c.DEEP_LINKING_REQUEST or not session.get("_launch_id"):
        raise Forbidden(gettext("This page answers a Deep Linking request from your course."))
    label = gettext("Add to course")
    if request.method == "GET":
        return _choose_page(url_for(".deep_link"), label)
    try:
        choice = _choice_from_form()
    except launches.LinkChoiceError as exc:
        return _choose_page(url_for(".deep_link"), label, error=_sentence(exc), status=400)
    db = request_db.session()
    launch = restore(
        session["_launch_id"],
        db=db,
        tool_conf=RegistryToolConf(db, tool_keys()),
        keys=platform_keys(),
        policy=LaunchPolicy(base_url=current_app.config["BASE_URL"]),
    )
    return_url, token = deep_linking.response(
        launch, [deep_linking.content_item(current_app.config["BASE_URL"], choice)]
    )
    return render_template(
        "lti/deep_link_return.html",
        return_url=return_url,
        jwt=token,
        title=deep_linking.link_title(choice),
    ), 200


@bp.post("/sign-out")
def sign_out() -> str:
    """End this launch session now: its address stops working (CSRF-checked like every POST)."""
    actor = current_actor()
    return_url = session.get("_return_url")
    launch_sessions.end(request_db.session(), key=actor.session_id)
    # Nothing left to save: the row is gone (a null session is not written back).
    session.state = None  # type: ignore[attr-defined]
    return render_template("lti/signed_out.html", return_url=return_url)
