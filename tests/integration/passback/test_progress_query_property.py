"""The one progress query against the pure rule, on random sign-off logs in the database.

Each example writes a random log (signs, undos, re-signs, by several instructors or by a
name from a paper record, timestamps drawn from a few values so that ties are common, over
several learners and statements) to the test database, then asks
``progress.latest_events`` and ``progress.cohort_met`` about a random set of learners x a
random set of statements. For every pair asked, the answer must be what
``frameworks.progress.met_statements`` says of the same rows, and the deciding event must be
the pair's event with the highest id. Runs on SQLite and PostgreSQL (``-m db``), where the
query takes its two forms (docs/architecture.md §2, ``latest_events_query``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.lti_rows import INSTRUCTOR, add_user, make_course

from frameworks import SignoffLogEntry, met_statements
from lti_app.db.models import SignoffEvent
from lti_app.services import progress

LEARNERS = 4
STATEMENTS = 5
SIGNERS = 3  # instructors; one more choice is "no user": an imported record's label
# Two of three draws share a timestamp: ties are decided by the log's order (id), never by time.
MOMENTS = [datetime(2026, 3, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=m) for m in (0, 0, 5)]

events = st.lists(
    st.tuples(
        st.integers(0, LEARNERS - 1),
        st.integers(0, STATEMENTS - 1),
        st.sampled_from(["sign", "sign", "undo"]),
        st.integers(0, SIGNERS),  # SIGNERS means no user, a label
        st.integers(0, len(MOMENTS) - 1),
    ),
    max_size=40,
)
asked_pairs = st.tuples(  # which learners x which statements the caller asks about
    st.sets(st.integers(0, LEARNERS - 1), min_size=1),
    st.sets(st.integers(0, STATEMENTS - 1), min_size=1),
)


@pytest.fixture
def world(db) -> tuple[int, list[int], list, list[int]]:
    """One course for every example: (course id, learners, statements, instructors)."""
    with db.transaction() as session:
        course = make_course(
            session,
            issuer="https://lms.example",
            client_id="c",
            token_url="https://lms.example/token",
            lineitems_url=None,
            level_keys=[],
            learners=LEARNERS,
        )
        signers = [course.instructor.id] + [
            add_user(
                session,
                "https://lms.example",
                f"i{n}",
                f"Instructor {n}",
                course.context,
                [INSTRUCTOR],
            ).id
            for n in range(SIGNERS - 1)
        ]
        statements = [s.id for level in course.version.levels for s in level.statements]
        return (
            course.context.id,
            [u.id for u in course.learners],
            statements[:STATEMENTS],
            signers,
        )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(log=events, asked=asked_pairs)
def test_the_query_answers_what_the_pure_rule_says(db, world, log, asked) -> None:
    context_id, learners, statements, signers = world
    asked_learners = [learners[i] for i in sorted(asked[0])]
    asked_statements = [statements[i] for i in sorted(asked[1])]
    # Written and read in one transaction, rolled back at the end: every example starts
    # from the same empty log.
    with db.sessionmaker() as session:
        rows = [
            SignoffEvent(
                learner_id=learners[learner],
                statement_id=statements[statement],
                context_id=context_id,
                actor_id=signers[signer] if signer < SIGNERS else None,
                actor_label=None if signer < SIGNERS else "Paper record",
                action=action,
                signed_at=MOMENTS[moment],
            )
            for learner, statement, action, signer, moment in log
        ]
        session.add_all(rows)
        session.flush()  # the ids are the database's: the log's order

        latest = progress.latest_events(session, asked_learners, asked_statements)
        met = progress.cohort_met(session, asked_learners, asked_statements)

        for learner_id in asked_learners:
            mine = [r for r in rows if r.learner_id == learner_id]
            expected = met_statements(
                SignoffLogEntry(r.statement_id, r.action, r.id, r.signed_at) for r in mine
            ) & set(asked_statements)
            assert met[learner_id] == expected
            for statement_id in asked_statements:
                history = [r for r in mine if r.statement_id == statement_id]
                found = latest.get((learner_id, statement_id))
                if not history:
                    assert found is None
                    continue
                newest = max(history, key=lambda r: r.id)
                assert found is not None
                assert (found.event_id, found.action, found.actor_id, found.actor_label) == (
                    newest.id,
                    newest.action,
                    newest.actor_id,
                    newest.actor_label,
                )
                assert found.met == (statement_id in expected)
        # Nothing but the pairs asked for.
        assert set(latest) <= {(lr, s) for lr in asked_learners for s in asked_statements}
        assert set(met) == set(asked_learners)
        session.rollback()
