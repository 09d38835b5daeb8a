"""LMS outages: down, failing, throttling, hanging. Every score arrives after recovery, with
backoff in between, and no page a person is waiting for waits on the LMS.

The worker here is the real ``lti_app.worker.Worker`` in a thread with a fast retry policy
(0.2 s doubling, 2 s cap) and 1 s timeouts, so an outage of a few seconds exercises many
retries; the production defaults are the same code with 15 s / 1 h.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select
from support import adversarial_figures as figures
from support.adversarial_servers import bring_up, take_down
from support.checklist_world import Person, launch_token
from support.lti_rows import INSTRUCTOR, course_on, sign

from lti_app.db.models import OutboxMessage
from lti_app.lms import AccessTokenCache
from lti_app.services import gradebook
from lti_app.services.outbox import RetryPolicy
from lti_app.services.progress import linked_statement_ids
from lti_app.worker import Worker

pytestmark = pytest.mark.slow
LEARNERS = 8
POLICY = RetryPolicy(max_attempts=40, base_seconds=0.2, cap_seconds=2.0)


@pytest.fixture
def course(db, lms):
    with db.transaction() as session:
        return course_on(session, lms, learners=LEARNERS)


class RunningWorker:
    def __init__(self, db, keys) -> None:
        self.worker = Worker(db, keys, policy=POLICY, timeout=(1.0, 1.0), tokens=AccessTokenCache())
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.worker.run, args=(self.stop, 0.1), daemon=True)

    def __enter__(self) -> RunningWorker:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(15)


def _queue(db, course) -> dict[str, int]:
    with db.transaction() as session:
        statements = linked_statement_ids(session, course.link)
        truth = {}
        for n, learner in enumerate(course.learners):
            for statement in statements[: n + 1]:
                sign(session, learner, statement, actor=course.instructor)
            gradebook.enqueue_score(session, learner.id, course.link.id)
            truth[learner.sub] = n + 1
        return truth


def _rows(db) -> list[OutboxMessage]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ags_score")))


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_scores_survive_an_outage_of_every_kind(db, lms, tool_keys, course):
    truth = _queue(db, course)
    port = take_down(lms)  # down before the first try: connection refused
    with RunningWorker(db, tool_keys):
        _wait(lambda: all(r.attempts >= 2 for r in _rows(db)), 20, "retries while the LMS is down")
        down = _rows(db)
        assert all(r.status == "pending" and r.last_error for r in down), [
            r.last_error for r in down
        ]
        assert all(r.next_attempt_at > r.created_at for r in down)  # backing off, not looping
        time.sleep(1.5)
        # Back, but failing for a while: errors, throttling with Retry-After, a hang.
        lms.fail("/scores", times=6, status=500)
        lms.fail("/scores", times=3, status=503, headers={"Retry-After": "1"})
        lms.fail("/scores", times=3, status=429, headers={"Retry-After": "1"})
        lms.fail("/scores", times=2, delay=2.5)  # longer than the worker's 1 s timeout
        lms.fail("/token", times=2, status=502)
        bring_up(lms, port)
        _wait(lambda: all(r.status == "sent" for r in _rows(db)), 90, "every score after recovery")
    rows = _rows(db)
    assert Counter(r.status for r in rows) == Counter({"sent": LEARNERS})
    assert max(r.attempts for r in rows) < POLICY.max_attempts  # backoff spent few attempts
    lineitem = next(iter(lms.state.lineitems))
    assert len(lms.state.lineitems) == 1
    for sub, given in truth.items():
        assert lms.state.latest(lineitem, sub)["scoreGiven"] == given, sub
    figures.add("scores delivered after an LMS outage", LEARNERS)
    figures.add("delivery attempts during the outage", sum(r.attempts for r in rows))


def test_a_hanging_lms_never_holds_a_sign_off(app, db, lms, course):
    """The LMS answers nothing for 30 s: signing off is still immediate (the score only goes
    to the outbox), and the grid's roster refresh is bounded by the outbound timeout and is
    not tried again on the next page."""
    for path in ("/token", "/memberships", "/scores", "/lineitems"):
        lms.fail(path, times=50, delay=30.0)
    instructor = Person(
        course.instructor.id, "Ana", [INSTRUCTOR], course.context.id, course.link.id
    )
    token = launch_token(app, instructor, platform_id=course.platform.id)
    client = app.test_client()
    from flask_wtf.csrf import generate_csrf

    with app.test_request_context(f"/s/{token}/"):
        csrf = generate_csrf()
    learner = course.learners[0]
    with db.transaction() as session:
        statement = linked_statement_ids(session, course.link)[0]
    start = time.perf_counter()
    answer = client.post(
        f"/s/{token}/learners/{learner.id}/sign",
        data={"statement": str(statement), "csrf_token": csrf},
    )
    signing = time.perf_counter() - start
    assert answer.status_code == 303
    assert signing < 2.0, f"a sign-off waited {signing:.1f} s on a hanging LMS"
    with db.transaction() as session:
        queued = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "ags_score")
        ).all()
    assert len(queued) == 1 and queued[0].status == "pending"

    start = time.perf_counter()
    assert client.get(f"/s/{token}/grid").status_code == 200
    first = time.perf_counter() - start
    start = time.perf_counter()
    assert client.get(f"/s/{token}/grid").status_code == 200
    second = time.perf_counter() - start
    # The grid never waits on the LMS: a stale roster is queued for the worker...
    assert first < 2.0, f"the grid waited {first:.1f} s on a hanging LMS"
    # ...and not queued again on every page view.
    assert second < 2.0, f"the grid waited again: {second:.1f} s"
    figures.add("sign-off latency with a hanging LMS (ms)", round(signing * 1000))
    figures.add("first grid view with a hanging LMS (ms)", round(first * 1000))
