"""Concurrent sign-offs on PostgreSQL, through the real pages: one credential per learner and
level, one status-list bit each, one AGS outbox row, and an audit trail that accounts for
every event.

Each thread is its own browser with its own launch session of an instructor or TA, and each
request its own database transaction (the app's pool is widened so 50 requests really run
at once). SQLite serialises writers by design, so these tests are PostgreSQL-only.
"""

from __future__ import annotations

import collections
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from support import adversarial_figures as figures
from support.checklist_world import LEARNER, World, make_world

from credentials import status_list as bitstring
from lti_app.db.engine import make_engine
from lti_app.db.models import (
    AuditEvent,
    Credential,
    Membership,
    OutboxMessage,
    ResourceLink,
    SignoffEvent,
    StatusList,
    User,
)
from lti_app.lms import SCOPE_LINEITEM, SCOPE_SCORE
from lti_app.services.gradebook import dedupe_key

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

THREADS = 50
ROUNDS = 25


@pytest.fixture
def wide_app(app, db):
    """The app with a pool big enough for THREADS simultaneous requests."""
    db.engine.dispose()
    db.engine = make_engine(db.url, pool_size=THREADS + 5, max_overflow=5, pool_timeout=60)
    db.sessionmaker.configure(bind=db.engine)
    return app


@pytest.fixture
def world(wide_app, db) -> World:
    world = make_world(wide_app, learners=1, level_keys=["emerging"])
    with db.transaction() as session:
        link = session.get(ResourceLink, world.link_a)
        # A link with a grade service, so every change queues a score (nothing sends it here).
        link.lineitems_url = "https://lms.example.edu/lineitems"
        link.ags_scopes = [SCOPE_LINEITEM, SCOPE_SCORE]
    return world


def _run_together(jobs: list[Any]) -> list[Any]:
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(index: int, job: Any) -> None:
        barrier.wait()
        try:
            results[index] = job()
        except Exception as exc:  # reported by the test, not lost in a thread
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def _staff(world: World, n: int):
    return world.ta if n % 2 else world.instructor


def _count(db, model: Any, *where: Any) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _allocated_bits(db) -> int:
    with db.transaction() as session:
        return sum(session.scalars(select(StatusList.next_index)))


def test_fifty_concurrent_signoffs_completing_one_level_issue_one_credential(wide_app, db, world):
    learner = world.learner
    statements = world.levels["emerging"]
    callers = [world.caller(wide_app.test_client(), _staff(world, n)) for n in range(THREADS)]

    def job(n: int) -> Any:
        caller = callers[n]
        # Each form completes the level, so it is the confirmed one (the credential is issued).
        if n % 3 == 0:  # the whole level at once
            form = [("level", "emerging"), ("confirmed", "1")]
        else:  # the statements one by one, each thread starting elsewhere
            form = [
                ("statement", str(s))
                for s in statements[n % len(statements) :] + statements[: n % len(statements)]
            ] + [("confirmed", "1")]
        return caller.post(f"/learners/{learner.id}/sign", form)

    answers = _run_together([lambda n=n: job(n) for n in range(THREADS)])
    errors = [a for a in answers if isinstance(a, Exception) or a.status_code != 303]
    assert not errors, [getattr(a, "status_code", a) for a in errors]
    figures.add("concurrent sign-offs (one learner, one level)", THREADS)

    emerging_level = _level_id(db, statements[0])
    assert _count(db, Credential, Credential.learner_id == learner.id) == 1
    assert _count(db, Credential, Credential.level_id == emerging_level) == 1
    assert _allocated_bits(db) == 1, "more than one status-list index was taken"
    link_key = dedupe_key(world.link_a, learner.id)
    assert (
        _count(
            db,
            OutboxMessage,
            OutboxMessage.kind == "ags_score",
            OutboxMessage.dedupe_key == link_key,
        )
        == 1
    )
    assert _count(db, OutboxMessage, OutboxMessage.kind == "notification") == 1
    # Each statement signed exactly once, each sign-off and the issue audited exactly once.
    with db.transaction() as session:
        signed = collections.Counter(
            session.scalars(
                select(SignoffEvent.statement_id).where(SignoffEvent.learner_id == learner.id)
            )
        )
        assert signed == collections.Counter({s: 1 for s in statements})
        actions = collections.Counter(session.scalars(select(AuditEvent.action)))
    assert actions["signoff.sign"] == len(statements)
    assert actions["credential.issue"] == 1


def test_fifty_learners_completing_at_once_get_distinct_status_bits(wide_app, db, world):
    """Issuance for different learners in parallel: no two credentials share a bit."""
    with db.transaction() as session:
        learners = []
        for n in range(THREADS):
            user = User(
                issuer="https://lms.example.edu",
                sub=f"crowd-{n}",
                name=f"Crowd {n}",
                email=f"crowd{n}@example.edu",
            )
            session.add(user)
            session.flush()
            session.add(
                Membership(
                    context_id=world.context_a,
                    user_id=user.id,
                    roles=[LEARNER],
                    is_instructor=False,
                    is_learner=True,
                    active=True,
                    source="launch",
                    launched=True,
                )
            )
            learners.append(user.id)
    callers = [world.caller(wide_app.test_client(), _staff(world, n)) for n in range(THREADS)]
    answers = _run_together(
        [
            lambda n=n: callers[n].post(
                f"/learners/{learners[n]}/sign", {"level": "emerging", "confirmed": "1"}
            )
            for n in range(THREADS)
        ]
    )
    assert all(not isinstance(a, Exception) and a.status_code == 303 for a in answers)
    figures.add("concurrent issuances (fifty learners)", THREADS)
    with db.transaction() as session:
        rows = session.execute(select(Credential.status_list_id, Credential.status_index)).all()
    assert len(rows) == THREADS
    assert len(set(rows)) == THREADS, "two credentials share a status-list bit"
    assert _allocated_bits(db) == THREADS
    assert _count(db, OutboxMessage, OutboxMessage.kind == "ags_score") == THREADS


def test_two_instructors_signing_and_undoing_at_once_stay_consistent(wide_app, db, world):
    learner = world.learner
    statements = world.levels["emerging"]
    last = statements[-1]
    instructor = world.caller(wide_app.test_client(), world.instructor)
    ta = world.caller(wide_app.test_client(), world.ta)
    # Everything but the last statement: signing it completes the level (and issues).
    assert (
        instructor.post(
            f"/learners/{learner.id}/sign", [("statement", str(s)) for s in statements[:-1]]
        ).status_code
        == 303
    )
    statuses: collections.Counter[int] = collections.Counter()
    for round_ in range(ROUNDS):
        signer, undoer = (instructor, ta) if round_ % 2 else (ta, instructor)
        answers = _run_together(
            [
                lambda s=signer: s.post(
                    f"/learners/{learner.id}/sign", {"statement": str(last), "confirmed": "1"}
                ),
                lambda u=undoer, r=round_: u.post(
                    f"/learners/{learner.id}/undo", {"statement": str(last), "reason": f"round {r}"}
                ),
            ]
        )
        for answer in answers:
            assert not isinstance(answer, Exception), answer
            assert answer.status_code in (303, 400), answer.status_code  # 400: nothing to undo yet
            statuses[answer.status_code] += 1
    figures.add("concurrent sign/undo pairs", ROUNDS)
    _check_consistent(db, learner.id, statements, last)
    assert statuses[303] >= ROUNDS  # every round did something


def _level_id(db, statement_id: uuid.UUID) -> uuid.UUID:
    from lti_app.db.models import Statement

    with db.transaction() as session:
        return session.get(Statement, statement_id).level_id


def _check_consistent(db, learner_id: int, statements: list[uuid.UUID], last: uuid.UUID) -> None:
    with db.transaction() as session:
        events = list(
            session.scalars(
                select(SignoffEvent)
                .where(SignoffEvent.learner_id == learner_id, SignoffEvent.statement_id == last)
                .order_by(SignoffEvent.id)
            )
        )
        actions = [e.action for e in events]
        # Sign and undo alternate, starting with a sign: no double sign, no undo of nothing.
        assert actions == ["sign", "undo"] * (len(actions) // 2) + ["sign"] * (len(actions) % 2), (
            actions
        )
        met = actions[-1] == "sign"
        credentials = list(
            session.scalars(
                select(Credential)
                .where(Credential.learner_id == learner_id)
                .order_by(Credential.issued_at)
            )
        )
        live = [c for c in credentials if c.revoked_at is None]
        assert len(live) == (1 if met else 0), (met, len(live))
        # One credential per completion: as many issued as there were signs of the last statement.
        assert len(credentials) == actions.count("sign")
        audit = collections.Counter()
        event_ids = collections.defaultdict(set)
        for row in session.scalars(
            select(AuditEvent).where(AuditEvent.subject_user_id == learner_id)
        ):
            audit[row.action] += 1
            if row.action.startswith("signoff."):
                event_ids[row.action].add(row.details.get("event_id"))
        every_sign = {
            e.id
            for e in session.scalars(
                select(SignoffEvent).where(
                    SignoffEvent.learner_id == learner_id, SignoffEvent.action == "sign"
                )
            )
        }
        every_undo = {e.id for e in events if e.action == "undo"}
        assert event_ids["signoff.sign"] == every_sign, "a sign-off without its audit row"
        assert event_ids["signoff.undo"] == every_undo, "an undo without its audit row"
        assert audit["credential.issue"] == len(credentials)
        assert audit["credential.revoke"] == len(credentials) - len(live)
        # The status list agrees with the records: exactly the revoked credentials' bits are set.
        for credential in credentials:
            bits = bitstring.StatusList(
                bits=session.get(StatusList, credential.status_list_id).bits
            )
            assert bits.get(credential.status_index) == (credential.revoked_at is not None)
