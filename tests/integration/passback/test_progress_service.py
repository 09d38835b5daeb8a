"""Progress from the append-only sign-off log: latest event per (learner, statement) wins."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select
from support.lti_rows import add_user, make_course, sign

from frameworks import SignoffLogEntry as PureEvent
from frameworks import met_statements
from lti_app.db.models import FrameworkLevel, Statement
from lti_app.services.progress import (
    LinkConfigurationError,
    cohort_met,
    linked_statement_ids,
    met_statement_ids,
)


def _course(session, **kwargs):
    return make_course(
        session,
        issuer="https://lms.example",
        client_id="c",
        token_url="https://lms.example/token",
        lineitems_url="https://lms.example/lineitems",
        **kwargs,
    )


def _level_statements(session, version_id, key):
    return list(
        session.scalars(
            select(Statement.id)
            .join(FrameworkLevel, Statement.level_id == FrameworkLevel.id)
            .where(FrameworkLevel.framework_version_id == version_id, FrameworkLevel.key == key)
            .order_by(Statement.position)
        )
    )


def test_linked_statements_follow_levels_in_framework_order(db):
    with db.transaction() as session:
        course = _course(session, level_keys=["developing", "emerging"])
        emerging = _level_statements(session, course.version.id, "emerging")
        developing = _level_statements(session, course.version.id, "developing")
        # Framework order (emerging first), not the order the link lists its levels.
        assert linked_statement_ids(session, course.link) == emerging + developing

        course.link.level_keys = []
        levels = session.scalars(
            select(FrameworkLevel.key)
            .where(FrameworkLevel.framework_version_id == course.version.id)
            .order_by(FrameworkLevel.position)
        ).all()
        expected = [s for key in levels for s in _level_statements(session, course.version.id, key)]
        assert len(levels) > 2
        assert linked_statement_ids(session, course.link) == expected

        course.link.framework_version_id = None
        assert linked_statement_ids(session, course.link) == []


def test_unknown_level_key_is_a_clear_error(db):
    with db.transaction() as session:
        course = _course(session, level_keys=["emerging", "wizard"])
        with pytest.raises(LinkConfigurationError, match="'wizard'"):
            linked_statement_ids(session, course.link)


def test_latest_event_wins_and_undo_unmeets(db):
    with db.transaction() as session:
        course = _course(session)
        a, b, c = _level_statements(session, course.version.id, "emerging")[:3]
        learner = course.learners[0]
        sign(session, learner, a)
        sign(session, learner, b)
        sign(session, learner, b, action="undo")
        sign(session, learner, c, action="undo")
        sign(session, learner, c)
        assert met_statement_ids(session, learner.id, [a, b, c]) == {a, c}
        # Only the statements asked about are reported.
        assert met_statement_ids(session, learner.id, [b]) == frozenset()
        # Another learner's events never leak in.
        assert met_statement_ids(session, course.learners[1].id, [a, b, c]) == frozenset()


def test_cohort_matches_the_pure_rule_on_a_random_log(db):
    rng = random.Random(20240611)
    with db.transaction() as session:
        course = _course(session, level_keys=[], learners=12)
        statements = linked_statement_ids(session, course.link)[:15]
        log: dict[int, list[PureEvent]] = {learner.id: [] for learner in course.learners}
        for _ in range(400):
            learner = rng.choice(course.learners)
            statement = rng.choice(statements)
            action = rng.choice(["sign", "sign", "undo"])
            row = sign(session, learner, statement, action=action)
            log[learner.id].append(PureEvent(statement, action, row.id, datetime.now(UTC)))
        got = cohort_met(session, [u.id for u in course.learners], statements)
    for learner_id, events in log.items():
        assert got[learner_id] == met_statements(events)


def test_cohort_costs_one_query_whatever_its_size(db):
    with db.transaction() as session:
        course = _course(session, level_keys=[], learners=1)
        statements = linked_statement_ids(session, course.link)
        learners = [course.learners[0]] + [
            add_user(session, "https://lms.example", f"extra-{n}", f"Ñame {n}", course.context, [])
            for n in range(60)
        ]
        session.flush()
        for n, learner in enumerate(learners):
            for statement in statements[: n % 7]:
                sign(session, learner, statement)
        statements_seen: list[str] = []

        def count(_conn, _cursor, statement, *_args):
            statements_seen.append(statement)

        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            grid = cohort_met(session, [u.id for u in learners], statements)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert len(statements_seen) == 1
    assert [len(grid[u.id]) for u in learners] == [n % 7 for n in range(len(learners))]


def test_empty_inputs(db):
    with db.transaction() as session:
        assert cohort_met(session, [], [uuid.uuid4()]) == {}
        assert cohort_met(session, [1, 2], []) == {1: frozenset(), 2: frozenset()}
