"""The AGS score: computed from stored sign-offs, queued in the caller's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from support.lti_rows import make_course, sign

from lti_app.db import utcnow
from lti_app.db.models import OutboxMessage
from lti_app.lms import SCOPE_LINEITEM, SCOPE_SCORE
from lti_app.services import gradebook, outbox
from lti_app.services.progress import linked_statement_ids


def _course(session, **kwargs):
    defaults = {
        "issuer": "https://lms.example",
        "client_id": "c",
        "token_url": "https://lms.example/token",
        "lineitems_url": "https://lms.example/lineitems",
    }
    return make_course(session, **(defaults | kwargs))


def _rows(session):
    return session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_payload_is_the_fraction_of_linked_statements_met(db):
    with db.transaction() as session:
        course = _course(session)
        statements = linked_statement_ids(session, course.link)
        learner = course.learners[0]
        for statement in statements[:3]:
            sign(session, learner, statement, actor=course.instructor)
        sign(session, learner, statements[2], action="undo", actor=course.instructor)
        # Another link's statements and another learner's sign-offs do not count.
        sign(session, course.learners[1], statements[0])
        row = gradebook.enqueue_score(session, learner.id, course.link.id)
        assert row is not None
        payload = row.payload
    score = payload["score"]
    assert (score["scoreGiven"], score["scoreMaximum"]) == (2, len(statements))
    assert score["userId"] == "learner-1"
    assert score["activityProgress"] == "InProgress"
    assert score["gradingProgress"] == "FullyGraded"
    stamp = datetime.fromisoformat(score["timestamp"])
    assert abs(stamp - utcnow()) < timedelta(minutes=1) and stamp.tzinfo is not None
    assert payload["lineitems_url"] == "https://lms.example/lineitems"
    assert payload["resource_link_id"] == course.link.resource_link_id
    assert row.kind == "ags_score" and row.status == "pending"


def test_all_met_is_completed(db):
    with db.transaction() as session:
        course = _course(session)
        learner = course.learners[0]
        for statement in linked_statement_ids(session, course.link):
            sign(session, learner, statement)
        score = gradebook.enqueue_score(session, learner.id, course.link.id).payload["score"]
    assert score["scoreGiven"] == score["scoreMaximum"] > 0
    assert score["activityProgress"] == "Completed"


def test_newer_pending_score_replaces_the_older(db):
    with db.transaction() as session:
        course = _course(session)
        statements = linked_statement_ids(session, course.link)
        learner, other = course.learners[0], course.learners[1]
        sign(session, learner, statements[0])
        first = gradebook.enqueue_score(session, learner.id, course.link.id)
        sign(session, learner, statements[1])
        second = gradebook.enqueue_score(session, learner.id, course.link.id)
        gradebook.enqueue_score(session, other.id, course.link.id)
        rows = _rows(session)
    assert first.id == second.id
    assert len(rows) == 2  # one per learner
    mine = next(r for r in rows if r.payload["learner_id"] == learner.id)
    assert mine.payload["score"]["scoreGiven"] == 2


def test_a_row_held_by_a_worker_is_not_rewritten(db):
    with db.transaction() as session:
        course = _course(session)
        statements = linked_statement_ids(session, course.link)
        learner = course.learners[0]
        sign(session, learner, statements[0])
        gradebook.enqueue_score(session, learner.id, course.link.id)
    claimed = outbox.claim_due(db, limit=5)
    assert len(claimed) == 1
    with db.transaction() as session:
        sign(session, learner, statements[1])
        newer = gradebook.enqueue_score(session, learner.id, course.link.id)
        rows = _rows(session)
    assert newer.id != claimed[0].id
    assert [r.payload["score"]["scoreGiven"] for r in rows] == [1, 2]


def test_rolled_back_signoff_leaves_no_outbox_row(db):
    with pytest.raises(RuntimeError), db.transaction() as session:
        course = _course(session)
        learner = course.learners[0]
        sign(session, learner, linked_statement_ids(session, course.link)[0])
        assert gradebook.enqueue_score(session, learner.id, course.link.id) is not None
        raise RuntimeError("the sign-off failed after the score was queued")
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_no_score_for_staff_or_links_without_grades(db):
    with db.transaction() as session:
        course = _course(session)
        statement = linked_statement_ids(session, course.link)[0]
        sign(session, course.instructor, statement)
        assert gradebook.enqueue_score(session, course.instructor.id, course.link.id) is None
        assert "not a learner" in gradebook.passback_blocker(
            session, course.instructor.id, course.link
        )

        learner = course.learners[0]
        course.link.ags_scopes = [SCOPE_LINEITEM]
        assert "score scope" in gradebook.passback_blocker(session, learner.id, course.link)
        course.link.ags_scopes = [SCOPE_SCORE]
        assert "create" in gradebook.passback_blocker(session, learner.id, course.link)
        course.link.lineitem_url = "https://lms.example/lineitems/9"
        assert gradebook.passback_blocker(session, learner.id, course.link) is None
        course.link.lineitem_url = course.link.lineitems_url = None
        assert gradebook.enqueue_score(session, learner.id, course.link.id) is None
        assert _rows(session) == []


def test_unknown_ids_are_refused_clearly(db):
    with db.transaction() as session:
        course = _course(session)
        with pytest.raises(LookupError, match="resource link"):
            gradebook.enqueue_score(session, course.learners[0].id, 999_999)
        with pytest.raises(LookupError, match="user"):
            gradebook.enqueue_score(session, 999_999, course.link.id)
