"""Crash safety: processes killed with SIGKILL at the worst moment lose and duplicate nothing.

* ``skillsign worker`` killed while the LMS holds its score POST (the score may or may not
  have landed), and killed while the LMS creates the line item: after a restart every row
  is sent, no line item is made twice, and a score the LMS got twice is the same score (same
  timestamp: AGS scores are idempotent by timestamp).
* A gunicorn app host killed in the middle of issuing a credential (its transaction paused
  inside the status-list allocation by a row lock the test holds, PostgreSQL): nothing of the
  sign-off remains, and doing it again issues exactly one credential.

The worker runs as a real process (``skillsign worker``) against the same database and keys;
its lease is 3 s here so the restarted worker may retake the rows the dead one held.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, text
from support import adversarial_figures as figures
from support.adversarial_procs import free_port, gunicorn, tool_env, wait_for, worker
from support.adversarial_servers import Gate, gate_posts
from support.checklist_world import make_world
from support.lti_rows import make_course, sign
from support.services_platform import CLIENT_ID, ISSUER

from lti_app.db.models import AuditEvent, Credential, OutboxMessage, SignoffEvent, StatusList
from lti_app.request_db import database
from lti_app.services import gradebook, signoffs
from lti_app.services.progress import linked_statement_ids

pytestmark = pytest.mark.slow
LEARNERS = 6
LEASE = 3.0


def _queue_scores(db, lms) -> dict[str, tuple[int, int]]:
    """Learners with some statements met, each with a score queued; {sub: (given, maximum)}."""
    with db.transaction() as session:
        course = make_course(
            session,
            issuer=ISSUER,
            client_id=CLIENT_ID,
            token_url=lms.token_url,
            lineitems_url=lms.lineitems_url,
            learners=LEARNERS,
        )
        statements = linked_statement_ids(session, course.link)
        truth = {}
        for n, learner in enumerate(course.learners):
            for statement in statements[: n + 1]:
                sign(session, learner, statement, actor=course.instructor)
            assert gradebook.enqueue_score(session, learner.id, course.link.id) is not None
            truth[learner.sub] = (n + 1, len(statements))
    return truth


def _statuses(db) -> Counter:
    with db.transaction() as session:
        return Counter(
            session.scalars(select(OutboxMessage.status).where(OutboxMessage.kind == "ags_score"))
        )


def _check_delivered(db, lms, truth: dict[str, tuple[int, int]]) -> None:
    assert _statuses(db) == Counter({"sent": LEARNERS}), _statuses(db)
    assert len(lms.state.lineitems) == 1, f"line items: {list(lms.state.lineitems)}"
    lineitem = next(iter(lms.state.lineitems))
    for sub, (given, maximum) in truth.items():
        history = lms.state.scores.get((lineitem, sub), [])
        assert history, f"{sub}: no score reached the LMS"
        latest = history[-1]
        assert (latest["scoreGiven"], latest["scoreMaximum"]) == (given, maximum), sub
        # Sent twice (before and after the crash) is fine only if it is the same score.
        distinct = {(h["timestamp"], h["scoreGiven"], h["scoreMaximum"]) for h in history}
        assert len(distinct) == 1, f"{sub} got different scores: {history}"


@pytest.mark.parametrize("held", ["/scores", "/lineitems"], ids=["mid-score", "mid-lineitem"])
def test_worker_killed_mid_passback_resumes_without_loss_or_duplicates(
    app, db, lms, tool_keys, tmp_path: Path, held: str
):
    truth = _queue_scores(db, lms)
    gate = Gate()
    lms.app = gate_posts(lms.app, gate, held)
    env = tool_env(app, tmp_path / "worker")
    first = worker(env, tmp_path / "worker-1.log", lease=LEASE)
    try:
        assert gate.arrived.wait(30), f"the worker never reached the LMS:\n{first.output()[-2000:]}"
        first.kill()  # the LMS is processing a request of a worker that no longer exists
    finally:
        gate.open.set()
        first.stop()
    figures.add("worker processes killed with SIGKILL (mid-passback)", 1)
    statuses = _statuses(db)
    assert statuses["pending"] + statuses["sent"] == LEARNERS and statuses["dead"] == 0
    assert statuses["pending"] >= 1, "the killed worker's row must still be waiting"

    second = worker(env, tmp_path / "worker-2.log", lease=LEASE)
    try:
        wait_for(lambda: _statuses(db)["sent"] == LEARNERS, 60, "every score to be sent")
    except AssertionError:
        raise AssertionError(second.output()[-3000:]) from None
    finally:
        second.stop()
    _check_delivered(db, lms, truth)
    figures.add("scores delivered after a worker crash", LEARNERS)


@pytest.mark.postgres_only
def test_app_host_killed_mid_issuance_leaves_nothing_half_done(app, db, tmp_path: Path):
    world = make_world(app, learners=2, level_keys=["emerging"])
    statements = world.levels["emerging"]
    learner, other = world.learners
    with app.app_context(), database(app).transaction() as session:
        # A credential for someone else, so the status list exists (its row is what we lock).
        signoffs.sign(
            session,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            learner_ids=[other.id],
            statement_ids=statements,
        )
        signoffs.sign(
            session,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            learner_ids=[learner.id],
            statement_ids=statements[:-1],
        )
    port = free_port()
    env = tool_env(app, tmp_path / "host", SKILLSIGN_BASE_URL=f"http://127.0.0.1:{port}")
    host = gunicorn(env, tmp_path / "host-1.log", port, workers=1)
    caller = world.caller(app.test_client(), world.instructor)
    url = f"http://127.0.0.1:{port}{caller.url(f'/learners/{learner.id}/sign')}"
    # The last statement completes the level: the confirmed form issues the credential.
    form = {"statement": str(statements[-1]), "csrf_token": caller.csrf(), "confirmed": "1"}
    before = _snapshot(db)
    lock = db.engine.connect()
    blocker = lock.begin()
    lock.execute(select(StatusList).with_for_update())  # issuance will wait here
    outcome: list[object] = []
    request = threading.Thread(target=lambda: outcome.append(_post(url, form)), daemon=True)
    try:
        request.start()
        wait_for(lambda: _waiting_on_locks(db) > 0, 30, "the sign-off to reach the status list")
        host.kill()  # mid-issuance: events inserted, credential being built, nothing committed
        figures.add("app hosts killed with SIGKILL (mid-issuance)", 1)
    finally:
        blocker.rollback()
        lock.close()
        host.stop()
    request.join(30)
    assert outcome and isinstance(outcome[0], Exception | int) and outcome[0] != 303
    wait_for(lambda: _waiting_on_locks(db) == 0, 30, "the dead host's transaction to end")
    assert _snapshot(db) == before, "a killed sign-off left part of itself behind"

    again = gunicorn(env, tmp_path / "host-2.log", port, workers=1)
    try:
        assert _post(url, form) == 303
    finally:
        again.stop()
    with db.transaction() as session:
        live = session.scalar(
            select(func.count()).select_from(Credential).where(Credential.learner_id == learner.id)
        )
        bits = session.scalar(select(func.sum(StatusList.next_index)))
    assert live == 1
    assert bits == 2  # the other learner's and this one's: the killed attempt took none


def _post(url: str, form: dict[str, str]) -> int | Exception:
    try:
        return requests.post(url, data=form, allow_redirects=False, timeout=60).status_code
    except requests.RequestException as exc:
        return exc


def _waiting_on_locks(db) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar())


def _snapshot(db) -> dict[str, int]:
    with db.transaction() as session:
        return {
            "events": session.scalar(select(func.count()).select_from(SignoffEvent)),
            "credentials": session.scalar(select(func.count()).select_from(Credential)),
            "audit": session.scalar(select(func.count()).select_from(AuditEvent)),
            "outbox": session.scalar(select(func.count()).select_from(OutboxMessage)),
            "bits": session.scalar(select(func.sum(StatusList.next_index))),
        }
