"""`skillsign worker` and `skillsign outbox`, and registering the demo LMS."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from lti_app import create_app
from lti_app.db.models import Deployment, OutboxMessage, Platform
from lti_app.demo import CLIENT_ID, DEPLOYMENT_ID, register_with_tool
from lti_app.services import outbox
from lti_app.worker import start_background_worker


def test_worker_once_delivers_what_is_due(db, runner):
    with db.transaction() as session:
        outbox.enqueue(session, "notification", {"event": "hello"})
        outbox.enqueue(session, "notification", {"event": "again"})
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "claimed 2: sent 2" in result.output
    with db.transaction() as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}


def test_outbox_list_and_requeue(db, runner):
    with db.transaction() as session:
        dead = outbox.enqueue(session, "mystery", {})
        dead.status, dead.last_error = "dead", "no handler for outbox kind 'mystery'"
        pending = outbox.enqueue(session, "notification", {})
    listed = runner.invoke(args=["outbox", "list", "--json", "--status", "dead"])
    assert listed.exit_code == 0, listed.output
    body = json.loads(listed.output)
    assert body["counts"] == {"pending": 1, "sent": 0, "dead": 1}
    assert [m["id"] for m in body["messages"]] == [dead.id]
    assert "mystery" in body["messages"][0]["last_error"]

    refused = runner.invoke(args=["outbox", "requeue", str(pending.id)])
    assert refused.exit_code == 1 and "none of those ids is a dead message" in refused.output
    requeued = runner.invoke(args=["outbox", "requeue", str(dead.id)])
    assert requeued.exit_code == 0 and "requeued 1" in requeued.output
    with db.transaction() as session:
        row = session.get(OutboxMessage, dead.id)
        assert (row.status, row.attempts) == ("pending", 0)


def test_registering_the_demo_lms_twice_changes_nothing(db):
    for _ in range(2):
        with db.transaction() as session:
            register_with_tool(session, "http://127.0.0.1:5000/")
    with db.transaction() as session:
        [platform] = session.scalars(select(Platform)).all()
        [deployment] = session.scalars(select(Deployment)).all()
    assert platform.issuer == "http://127.0.0.1:5000/demo-lms"
    assert platform.client_id == CLIENT_ID
    assert platform.auth_token_url == "http://127.0.0.1:5000/demo-lms/token"
    assert (deployment.deployment_id, deployment.status) == (DEPLOYMENT_ID, "approved")


def test_background_worker_delivers_in_process(app, db):
    with db.transaction() as session:
        row = outbox.enqueue(session, "notification", {"event": "in-process"})
    background = start_background_worker(app, poll_seconds=0.1)
    try:
        deadline = time.monotonic() + 10
        status = "pending"
        while status != "sent" and time.monotonic() < deadline:
            time.sleep(0.05)
            with db.transaction() as session:
                status = session.get(OutboxMessage, row.id).status
    finally:
        background.stop()
    assert status == "sent"
    assert not background.thread.is_alive()


def test_no_background_worker_in_production(database_url, tmp_path):
    production = create_app(
        {
            "ENV": "production",
            "SECRET_KEY": "s" * 40,
            "BASE_URL": "https://tool.example",
            "INSTANCE_DIR": str(tmp_path),
            "DATABASE_URL": database_url,
        }
    )
    with pytest.raises(RuntimeError, match="skillsign worker"):
        start_background_worker(production)
    production.extensions["skillsign.db"].dispose()
