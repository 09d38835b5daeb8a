"""Delivering queued scores to an independent platform: retries, permanent failures, leases."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from support.lti_rows import sign

from lti_app.db import utcnow
from lti_app.db.models import OutboxMessage, ResourceLink
from lti_app.lms import AccessTokenCache
from lti_app.services import gradebook, outbox
from lti_app.services.outbox import RetryPolicy
from lti_app.services.progress import linked_statement_ids
from lti_app.worker import Worker

CANVAS_NOT_STUDENT = (
    '{"errors":{"type":"unprocessable_entity",'
    '"message":"User not found in course or is not a student"}}'
)
CANVAS_UNPUBLISHED = (
    '{"errors":[{"field":"grade","message":"cannot be changed at this time: '
    'This assignment is still unpublished","error_code":null}]}'
)


def _worker(db, tool_keys, **kwargs) -> Worker:
    kwargs.setdefault("tokens", AccessTokenCache())
    kwargs.setdefault("timeout", (2.0, 2.0))
    return Worker(db, tool_keys, **kwargs)


def _queue(db, course, learner_index=0, met=2):
    with db.transaction() as session:
        statements = linked_statement_ids(session, course.link)
        learner = course.learners[learner_index]
        for statement in statements[:met]:
            sign(session, learner, statement, actor=course.instructor)
        row = gradebook.enqueue_score(session, learner.id, course.link.id)
        return row.id, len(statements)


def _row(db, row_id) -> OutboxMessage:
    with db.transaction() as session:
        return session.get(OutboxMessage, row_id)


def _only_lineitem(platform) -> str:
    assert len(platform.state.lineitems) == 1
    return next(iter(platform.state.lineitems))


def test_score_arrives_and_the_missing_line_item_is_created(db, tool_keys, platform, course):
    row_id, total = _queue(db, course, met=3)
    stats = _worker(db, tool_keys).run_once()
    assert (stats.claimed, stats.sent) == (1, 1)

    lineitem_id = _only_lineitem(platform)
    item = platform.state.lineitems[lineitem_id]
    assert item["resourceLinkId"] == course.link.resource_link_id
    assert item["tag"] == "skillsign" and item["scoreMaximum"] == total
    received = platform.state.latest(lineitem_id, "learner-1")
    assert (received["scoreGiven"], received["scoreMaximum"]) == (3, total)

    row = _row(db, row_id)
    assert row.status == "sent" and row.sent_at is not None and row.locked_until is None
    with db.transaction() as session:
        # Saved, so the next score goes straight to it.
        assert session.get(ResourceLink, course.link.id).lineitem_url == lineitem_id

    _queue(db, course, learner_index=1, met=1)
    _worker(db, tool_keys).run_once()
    assert len(platform.state.lineitems) == 1
    assert platform.state.latest(lineitem_id, "learner-2")["scoreGiven"] == 1


def test_existing_line_item_of_the_link_is_found_not_duplicated(db, tool_keys, platform, course):
    existing = platform.add_lineitem(
        label="made by the teacher",
        scoreMaximum=10,
        resourceLinkId=course.link.resource_link_id,
        tag="skillsign",
    )
    _queue(db, course)
    _worker(db, tool_keys).run_once()
    assert list(platform.state.lineitems) == [existing]
    assert platform.state.latest(existing, "learner-1")["scoreGiven"] == 2


def test_server_errors_are_retried_with_backoff_then_delivered(db, tool_keys, platform, course):
    row_id, _ = _queue(db, course)
    platform.fail("/scores", times=2, status=500)
    worker = _worker(db, tool_keys, policy=RetryPolicy(base_seconds=20, cap_seconds=600))

    before = utcnow()
    assert worker.run_once().retrying == 1
    first = _row(db, row_id)
    assert first.status == "pending" and first.attempts == 1 and "500" in first.last_error
    # Equal jitter: between half and all of the 20 s base.
    assert (
        before + timedelta(seconds=10) <= first.next_attempt_at <= utcnow() + timedelta(seconds=20)
    )
    assert worker.run_once().claimed == 0  # not due yet

    assert worker.run_once(now=utcnow() + timedelta(minutes=1)).retrying == 1
    second = _row(db, row_id)
    assert second.attempts == 2
    assert second.next_attempt_at - utcnow() >= timedelta(seconds=19)  # doubled

    assert worker.run_once(now=utcnow() + timedelta(hours=1)).sent == 1
    assert _row(db, row_id).status == "sent"
    lineitem_id = _only_lineitem(platform)
    assert len(platform.state.scores[(lineitem_id, "learner-1")]) == 1


def test_a_timeout_is_retried_and_the_repeat_is_idempotent(db, tool_keys, platform, course):
    row_id, _ = _queue(db, course)
    # The platform takes longer than our read timeout, yet stores the score.
    platform.fail("/scores", times=1, delay=1.5)
    worker = _worker(db, tool_keys, timeout=(1.0, 0.5))
    assert worker.run_once().retrying == 1
    assert "no answer" in _row(db, row_id).last_error

    assert worker.run_once(now=utcnow() + timedelta(hours=1)).sent == 1
    deadline = time.monotonic() + 5
    while platform.state.score_posts < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the slow first POST is still being served
    lineitem_id = _only_lineitem(platform)
    received = platform.state.scores[(lineitem_id, "learner-1")]
    # Sent twice, the same score with the same timestamp: the platform's state is one score.
    assert len(received) == 2 and received[0] == received[1]


def test_retry_after_is_respected(db, tool_keys, platform, course):
    row_id, _ = _queue(db, course)
    platform.fail("/scores", times=1, status=429, headers={"Retry-After": "900"})
    _worker(db, tool_keys).run_once()
    assert _row(db, row_id).next_attempt_at >= utcnow() + timedelta(seconds=890)


@pytest.mark.parametrize(
    ("body", "words"),
    [(CANVAS_NOT_STUDENT, "not a student"), (CANVAS_UNPUBLISHED, "unpublished")],
)
def test_canvas_refusals_are_reported_not_retried(db, tool_keys, platform, course, body, words):
    row_id, _ = _queue(db, course)
    platform.fail("/scores", times=1, status=422, body=body)
    worker = _worker(db, tool_keys)
    assert worker.run_once().dead == 1
    row = _row(db, row_id)
    assert row.status == "dead" and row.attempts == 1
    assert words in row.last_error and "422" in row.last_error
    assert worker.run_once(now=utcnow() + timedelta(days=30)).claimed == 0

    # Once the teacher fixed it (published the assignment), an admin requeues it.
    with db.transaction() as session:
        assert outbox.requeue(session, [row_id]) == 1
    assert worker.run_once().sent == 1
    assert _row(db, row_id).status == "sent"


def test_gives_up_after_max_attempts(db, tool_keys, platform, course):
    row_id, _ = _queue(db, course)
    platform.fail("/scores", times=10, status=503)
    worker = _worker(db, tool_keys, policy=RetryPolicy(max_attempts=3, base_seconds=1))
    later = utcnow()
    for _ in range(3):
        later += timedelta(hours=1)
        worker.run_once(now=later)
    row = _row(db, row_id)
    assert row.status == "dead" and row.attempts == 3
    assert row.last_error.startswith("gave up after 3 attempts") and "503" in row.last_error


def test_an_expired_lease_is_claimed_again(db, tool_keys, platform, course):
    row_id, _ = _queue(db, course)
    # A worker claims the row and dies before recording anything.
    crashed = outbox.claim_due(db, lease=timedelta(minutes=5))
    assert [m.id for m in crashed] == [row_id]
    worker = _worker(db, tool_keys)
    assert worker.run_once().claimed == 0  # the lease still holds

    stats = worker.run_once(now=utcnow() + timedelta(minutes=6))
    assert stats.sent == 1
    row = _row(db, row_id)
    assert row.status == "sent" and row.attempts == 2
    # The dead worker, had it come back, could no longer overwrite the outcome.
    assert outbox.mark_sent(db, crashed[0]) is False
    assert outbox.mark_failed(db, crashed[0], "late", permanent=True) is None
    assert _row(db, row_id).status == "sent"


def test_score_is_recomputed_from_stored_signoffs_at_delivery(db, tool_keys, platform, course):
    row_id, _ = _queue(db, course, met=1)
    with db.transaction() as session:
        statements = linked_statement_ids(session, course.link)
        # A sign-off committed without its own outbox row (e.g. imported history).
        sign(session, course.learners[0], statements[1])
        sign(session, course.learners[0], statements[2])
    _worker(db, tool_keys).run_once()
    lineitem_id = _only_lineitem(platform)
    assert platform.state.latest(lineitem_id, "learner-1")["scoreGiven"] == 3
    assert _row(db, row_id).payload["score"]["scoreGiven"] == 3  # what was really sent


def test_a_newer_score_at_the_platform_supersedes_ours(db, tool_keys, platform, course):
    row_id, _ = _queue(db, course)
    platform.fail("/scores", times=1, status=409, body='{"error":"oldtimestamp"}')
    assert _worker(db, tool_keys).run_once().sent == 1
    row = _row(db, row_id)
    assert row.status == "sent" and row.last_error.startswith("superseded")


def test_one_token_serves_many_deliveries(db, tool_keys, platform, course):
    for index in range(3):
        _queue(db, course, learner_index=index, met=index + 1)
    worker = _worker(db, tool_keys)
    assert worker.run_once().sent == 3
    assert platform.state.token_requests == 1
    assert platform.state.score_posts == 3


def test_a_401_gets_one_fresh_token(db, tool_keys, platform, course):
    _queue(db, course)
    worker = _worker(db, tool_keys)
    platform.fail("/lineitems", times=1, status=401, body='{"error":"token expired"}')
    assert worker.run_once().sent == 1
    assert platform.state.token_requests == 2


def test_unknown_kind_goes_dead_with_a_reason(db, tool_keys):
    with db.transaction() as session:
        row = outbox.enqueue(session, "carrier_pigeon", {"to": "x"})
    assert _worker(db, tool_keys, handlers={}).run_once().claimed == 0  # kinds filter
    worker = _worker(db, tool_keys, handlers={"carrier_pigeon": None})  # type: ignore[dict-item]
    worker.run_once()
    failed = _row(db, row.id)
    assert failed.status == "dead" and "carrier_pigeon" in failed.last_error


def test_notification_kind_is_logged(db, tool_keys, caplog):
    with db.transaction() as session:
        row = outbox.enqueue(session, "notification", {"event": "credential.issued", "id": 7})
    with caplog.at_level("INFO", logger="skillsign.outbox"):
        assert _worker(db, tool_keys).run_once().sent == 1
    assert any(r.getMessage() == "notification" for r in caplog.records)
    assert _row(db, row.id).status == "sent"


@pytest.mark.postgres_only
def test_concurrent_workers_never_deliver_the_same_row_twice(db, tool_keys, platform, course):
    if db.dialect != "postgresql":
        pytest.skip("row locks (FOR UPDATE SKIP LOCKED) are a PostgreSQL feature")
    with db.transaction() as session:
        statements = linked_statement_ids(session, course.link)
        from support.lti_rows import LEARNER, add_user

        learners = [
            add_user(session, "x", f"many-{n}", f"Ñ {n}", course.context, [LEARNER])
            for n in range(40)
        ]
        for learner in learners:
            sign(session, learner, statements[0])
            gradebook.enqueue_score(session, learner.id, course.link.id)
    tokens = AccessTokenCache()
    workers = [_worker(db, tool_keys, batch=3, tokens=tokens) for _ in range(4)]
    barrier = threading.Barrier(len(workers))
    results = []

    def run(worker):
        barrier.wait()
        results.append(worker.run_once())

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(r.sent for r in results) == 40
    assert sum(r.claimed for r in results) == 40
    assert platform.state.score_posts == 40
    assert len(platform.state.lineitems) == 1  # the row lock serialised its creation
    with db.transaction() as session:
        statuses = set(session.scalars(select(OutboxMessage.status)))
    assert statuses == {"sent"}
