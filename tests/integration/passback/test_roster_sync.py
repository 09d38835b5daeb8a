"""NRPS roster sync: every member listed, membership roles only, the missing made inactive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from support.lti_rows import INSTRUCTOR, LEARNER, course_on

from lti_app.db import utcnow
from lti_app.db.models import Context, Membership, User
from lti_app.lms import AccessTokenCache
from lti_app.services.roster import RosterUnavailable, enqueue_sync, parse_member, sync_roster
from lti_app.worker import Worker

INSTITUTION_FACULTY = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty"
INSTITUTION_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"


def _member(sub, roles, **extra):
    return {"user_id": sub, "roles": roles, "status": "Active"} | extra


@pytest.fixture
def nrps_course(db, platform):
    with db.transaction() as session:
        course = course_on(session, platform, learners=2)
    platform.state.members = [
        _member("teacher-1", [INSTRUCTOR], name="Ana Núñez"),
        _member("learner-1", [LEARNER]),  # no name: the launch's name must survive
        _member("never-launched", [LEARNER], name="Zoë Ødegård", email="zoe@example.edu"),
        _member("ta-1", [TA], name="Søren Kjær"),
        # Institution roles only: a faculty member who is a learner in this course.
        _member("faculty-learner", [INSTITUTION_INSTRUCTOR, INSTITUTION_FACULTY, "Learner"]),
        _member("dropped", [LEARNER], status="Inactive"),
    ]
    return course


def _sync(db, tool_keys, context_id, **kwargs):
    with db.transaction() as session:
        context = session.get(Context, context_id)
        return sync_roster(session, context, tool_keys, tokens=AccessTokenCache(), **kwargs)


def _memberships(db, context_id):
    with db.transaction() as session:
        rows = session.execute(
            select(User.sub, User.name, Membership)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.context_id == context_id)
        ).all()
        return {sub: (name, m) for sub, name, m in rows}


def test_roster_lists_learners_who_never_launched(db, tool_keys, nrps_course):
    result = _sync(db, tool_keys, nrps_course.context.id)
    assert result.fetched and result.members == 6 and result.added == 4
    rows = _memberships(db, nrps_course.context.id)

    name, zoe = rows["never-launched"]
    assert name == "Zoë Ødegård" and zoe.is_learner and zoe.active
    assert zoe.source == "nrps" and zoe.launched is False

    assert rows["learner-1"][0] == "Learner 1 Ødegård"  # kept from the launch
    assert rows["learner-1"][1].launched is True

    ta = rows["ta-1"][1]
    assert ta.is_instructor and not ta.is_learner

    faculty = rows["faculty-learner"][1]
    assert faculty.is_learner and not faculty.is_instructor
    assert faculty.roles == [LEARNER]  # the short name expanded; institution roles dropped

    assert rows["dropped"][1].active is False
    # In the tool before, missing from the roster now: inactive, not deleted.
    assert rows["learner-2"][1].active is False


def test_fresh_roster_is_not_fetched_again_unless_forced(db, tool_keys, platform, nrps_course):
    assert _sync(db, tool_keys, nrps_course.context.id).fetched
    tokens_before = platform.state.token_requests
    assert _sync(db, tool_keys, nrps_course.context.id).fetched is False
    assert platform.state.token_requests == tokens_before

    platform.state.members.append(_member("late-joiner", [LEARNER], name="Łucja Żak"))
    assert "late-joiner" not in _memberships(db, nrps_course.context.id)
    later = utcnow() + timedelta(minutes=20)
    assert _sync(db, tool_keys, nrps_course.context.id, now=later).fetched
    assert "late-joiner" in _memberships(db, nrps_course.context.id)

    platform.state.members.pop()
    assert _sync(db, tool_keys, nrps_course.context.id, force=True, now=later).deactivated == 1
    assert _memberships(db, nrps_course.context.id)["late-joiner"][1].active is False


def test_an_empty_roster_deactivates_nobody(db, tool_keys, platform, nrps_course):
    platform.state.members = []
    assert _sync(db, tool_keys, nrps_course.context.id).deactivated == 0
    assert all(m.active for _, m in _memberships(db, nrps_course.context.id).values())


def test_roster_errors_are_clear(db, tool_keys, platform, nrps_course):
    platform.fail("/memberships", times=2, status=403, body='{"error":"forbidden"}')
    with pytest.raises(RosterUnavailable, match="403"):
        _sync(db, tool_keys, nrps_course.context.id)
    with db.transaction() as session:
        session.get(Context, nrps_course.context.id).memberships_url = None
    with pytest.raises(RosterUnavailable, match="no roster service"):
        _sync(db, tool_keys, nrps_course.context.id)


def test_parse_member_rejects_what_it_cannot_use():
    assert parse_member({"roles": [LEARNER]}) is None
    assert parse_member({"user_id": "  ", "roles": []}) is None
    odd = parse_member({"user_id": "u", "roles": "Learner", "status": "Deleted"})
    assert odd is not None and odd.roles == () and odd.active is False


def test_roster_sync_in_the_background(db, tool_keys, platform, nrps_course):
    with db.transaction() as session:
        first = enqueue_sync(session, nrps_course.context.id)
        again = enqueue_sync(session, nrps_course.context.id, force=True)
    assert first.id == again.id  # one pending refresh per course
    platform.fail("/memberships", times=1, status=503)
    worker = Worker(db, tool_keys, tokens=AccessTokenCache())
    assert worker.run_once().retrying == 1
    assert "never-launched" not in _memberships(db, nrps_course.context.id)
    assert worker.run_once(now=utcnow() + timedelta(hours=1)).sent == 1
    assert "never-launched" in _memberships(db, nrps_course.context.id)


def test_roster_sync_command(db, runner, tool_keys, nrps_course):
    result = runner.invoke(args=["roster", "sync", str(nrps_course.context.id)])
    assert result.exit_code == 0, result.output
    assert "6 members: 4 new" in result.output
    assert "recent" in runner.invoke(args=["roster", "sync", str(nrps_course.context.id)]).output
    missing = runner.invoke(args=["roster", "sync", "999999"])
    assert missing.exit_code == 1 and "no course with id 999999" in missing.output
