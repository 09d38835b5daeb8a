"""Rights follow the course roster at once, not the roles frozen into a launch session.

An instructor launches (a launch session as the tool makes one), then the platform's
roster (NRPS, served over real HTTP by an independent platform) drops or demotes them and
the tool's roster service syncs it. Their very next request must lose the course: the grid,
a learner's page, the CSV export and a sign-off all refused, with nothing written. A
session kept busy also dies at its absolute lifetime, however recently it was used.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update
from support.checklist_world import Caller
from support.lti_rows import INSTRUCTOR, LEARNER, course_on

from lti_app.db import utcnow
from lti_app.db.models import Context, LaunchSession, SignoffEvent, Statement
from lti_app.lms import AccessTokenCache
from lti_app.lms.roles import classify
from lti_app.lti import sessions
from lti_app.services.launches import LaunchRecord
from lti_app.services.roster import sync_roster

SYSTEM_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"
ROLE_CHANGED = "Your role in this course has changed; launch skillsign again from your course."


@pytest.fixture
def course(db, lms):
    with db.transaction() as session:
        made = course_on(session, lms, learners=2)
    lms.state.members = [
        {"user_id": "teacher-1", "roles": [INSTRUCTOR], "status": "Active"},
        {"user_id": "learner-1", "roles": [LEARNER], "status": "Active"},
        {"user_id": "learner-2", "roles": [LEARNER], "status": "Active"},
    ]
    return made


def _session(app, db, course, user, roles: list[str]) -> Caller:
    """A launch session exactly as the launch view makes one (roles frozen at launch)."""
    record = LaunchRecord(
        user_id=user.id,
        platform_id=course.platform.id,
        context_id=course.context.id,
        resource_link_id=course.link.id,
        roles=classify(roles),
        is_tool_admin=False,
        locale=None,
        message_type="LtiResourceLinkRequest",
    )
    with app.app_context(), db.transaction() as session:
        token = sessions.create(
            session, record, browser_hash=None, pending=False, data={"csrf_token": "c" * 40}
        )
    return Caller(app.test_client(), token)


def _roster(db, tool_keys, course) -> None:
    """What the platform lists now, read by the tool's roster service (forced: no cache)."""
    with db.transaction() as session:
        context = session.get(Context, course.context.id)
        sync_roster(session, context, tool_keys, force=True, tokens=AccessTokenCache())


def _signoffs(db) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(SignoffEvent)) or 0)


@pytest.mark.parametrize("how", ["dropped", "inactive"])
def test_a_deactivated_instructor_loses_every_page_on_the_next_request(
    app, db, tool_keys, lms, course, caplog, how
):
    teacher = _session(app, db, course, course.instructor, [INSTRUCTOR])
    learner_page = f"/learners/{course.learners[0].id}"
    pages = ("/grid", learner_page, "/cohort.csv", "/cohort", "/requests")
    for path in pages:
        assert teacher.get(path).status_code == 200, path  # the grid also syncs the roster once

    if how == "dropped":
        lms.state.members = lms.state.members[1:]
    else:
        lms.state.members[0]["status"] = "Inactive"
    _roster(db, tool_keys, course)

    caplog.set_level(logging.INFO)
    for path in pages:
        caplog.clear()
        answer = teacher.get(path)
        assert answer.status_code == 403, path
        assert ROLE_CHANGED in answer.text
        assert "Ødegård" not in answer.text  # no learner's name on the refusal
        refusals = [
            r for r in caplog.records if r.getMessage().startswith("launch session refused")
        ]
        assert len(refusals) == 1, (path, [r.getMessage() for r in caplog.records])
    before = _signoffs(db)
    with db.transaction() as session:
        statement = session.scalar(
            select(Statement.id).where(Statement.framework_version_id == course.version.id)
        )
    signed = teacher.post(f"{learner_page}/sign", {"statement": str(statement)})
    assert signed.status_code == 403
    assert _signoffs(db) == before
    # The landing page too: no course role left to send them anywhere.
    assert teacher.get("/").status_code == 403


def test_a_demoted_instructor_sees_only_the_learner_view(app, db, tool_keys, lms, course):
    teacher = _session(app, db, course, course.instructor, [INSTRUCTOR])
    assert teacher.get("/grid").status_code == 200
    lms.state.members[0]["roles"] = [LEARNER]
    _roster(db, tool_keys, course)

    for path in ("/grid", f"/learners/{course.learners[0].id}", "/cohort.csv", "/requests"):
        assert teacher.get(path).status_code == 403, path
    landing = teacher.get("/")
    assert landing.status_code == 303 and landing.headers["Location"].endswith("/checklist")
    own = teacher.get("/checklist")
    assert own.status_code == 200
    assert "Sign-off grid" not in own.text  # the instructor menu is gone
    assert "Learner 1" not in own.text  # and so are the other learners


def test_a_platform_admin_dropped_from_the_roster_keeps_the_admin_pages_only(
    app, db, tool_keys, lms, course
):
    # A system administrator who also teaches the course.
    admin = _session(app, db, course, course.instructor, [INSTRUCTOR, SYSTEM_ADMIN])
    assert admin.get("/grid").status_code == 200
    lms.state.members = lms.state.members[1:]
    _roster(db, tool_keys, course)
    assert admin.get("/grid").status_code == 403
    assert admin.get("/admin/").status_code == 200


def test_a_busy_session_ends_at_its_absolute_lifetime(app, db, course):
    teacher = _session(app, db, course, course.instructor, [INSTRUCTOR])
    max_age = timedelta(hours=12)  # the documented default (checked below)

    def launched(ago: timedelta) -> None:
        # Active a minute ago (the sliding expiry is fresh), launched ``ago`` ago.
        with db.transaction() as session:
            session.execute(
                update(LaunchSession).values(
                    created_at=utcnow() - ago, expires_at=utcnow() + timedelta(hours=8)
                )
            )

    launched(max_age - timedelta(minutes=10))
    assert teacher.get("/grid").status_code == 200
    launched(max_age + timedelta(seconds=1))
    expired = teacher.get("/grid")
    assert expired.status_code == 401
    assert "Your skillsign session has expired." in expired.text
    assert app.config.get("LAUNCH_SESSION_MAX_AGE") == max_age

    # A shorter setting is obeyed, and sliding never pushes the expiry past the limit.
    app.config["LAUNCH_SESSION_MAX_AGE"] = timedelta(hours=1)
    with db.transaction() as session:
        session.execute(
            update(LaunchSession).values(
                created_at=utcnow() - timedelta(minutes=50),
                expires_at=utcnow() + timedelta(minutes=1),
            )
        )
    assert teacher.get("/cohort").status_code == 200
    with db.transaction() as session:
        row = session.scalars(select(LaunchSession)).one()
        assert row.expires_at <= row.created_at + timedelta(hours=1)
        assert row.expires_at > utcnow() + timedelta(minutes=5)  # it did slide, up to the cap


def test_the_membership_is_read_in_the_same_query_as_the_session(app, db, course):
    """No extra round trip per request: one SELECT opens the session with the membership."""
    teacher = _session(app, db, course, course.instructor, [INSTRUCTOR])
    teacher.get("/cohort")  # warm up (CSRF secret, roster freshness)
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert teacher.get("/requests").status_code == 200
        assert teacher.get("/cohort").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    opened = [s for s in seen if "FROM launch_sessions" in s]
    assert len(opened) == 2  # one per request
    assert all("JOIN memberships" in s for s in opened)
