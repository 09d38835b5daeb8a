"""A stale roster is refreshed by the worker, never by the grid's page; a refresh queued by one
worker process holds back every other for a while: the wait is kept in the database
(docs/architecture.md §1).

Two app instances on one database stand for two gunicorn workers; a real HTTP server
stands for the platform and counts what it is asked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from support.checklist_world import make_world
from support.servers import ServedApp, serve

from keys import KeyKind, KeyStore
from lti_app import create_app
from lti_app.db import utcnow
from lti_app.db.models import Context, LaunchData, OutboxMessage, Platform
from lti_app.request_db import database
from lti_app.services import roster

FAILED = "could not be read from the platform"
REFRESHING = "Refreshing the course roster"


class DownPlatform:
    """Answers every token and roster request with 503, and counts them."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with self._lock:
            self.paths.append(environ["PATH_INFO"])
        start_response("503 Service Unavailable", [("Content-Type", "application/json")])
        return [b'{"error": "temporarily_unavailable"}']


@pytest.fixture
def down() -> Iterator[tuple[DownPlatform, ServedApp]]:
    platform = DownPlatform()
    server = serve(platform)
    yield platform, server
    server.stop()


@pytest.fixture
def second_app(app):
    """Another worker: its own process state (extensions, caches), the same database."""
    keep = ("ENV", "TESTING", "DATABASE_URL", "INSTANCE_DIR", "SECRET_KEY", "BASE_URL")
    other = create_app({name: app.config[name] for name in keep})
    yield other
    other.extensions["skillsign.db"].dispose()


def test_a_refresh_queued_by_one_worker_holds_back_the_other(app, second_app, down):
    """The grid never calls the platform itself (the worker does, with its own retries), and
    a refresh queued by one worker is not queued again by another until ROSTER_RETRY."""
    platform, server = down
    world = make_world(app)
    KeyStore(app.config["KEYS_DIR"]).ensure(KeyKind.RSA)
    with app.app_context(), database(app).transaction() as session:
        session.get(Context, world.context_a).memberships_url = f"{server.url}/memberships"
        session.get(Platform, world.platform_id).auth_token_url = f"{server.url}/token"

    first = world.caller(app.test_client(), world.instructor).get("/grid")
    assert first.status_code == 200 and REFRESHING in first.text
    assert FAILED not in first.text
    assert platform.paths == []  # the page asked the platform nothing
    assert _syncs(app) == 1

    # The other worker, which queued nothing itself, does not queue again.
    other = world.caller(second_app.test_client(), world.instructor)
    again = other.get("/grid")
    assert again.status_code == 200 and REFRESHING in again.text
    assert world.learner.name in again.text
    assert platform.paths == [] and _syncs(app) == 1

    # Once the wait is over (its row expired), whichever worker comes next queues again:
    # the pending request is refreshed in place (one pending row per course).
    with app.app_context(), database(app).transaction() as session:
        session.execute(
            update(LaunchData)
            .where(LaunchData.key == f"roster-queued:{world.context_a}")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    later = other.get("/grid")
    assert REFRESHING in later.text
    assert platform.paths == [] and _syncs(app) == 1


def _syncs(app) -> int:
    with app.app_context(), database(app).transaction() as session:
        return len(
            session.scalars(select(OutboxMessage).where(OutboxMessage.kind == roster.KIND)).all()
        )
