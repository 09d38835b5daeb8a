"""What a complete launch costs the database, counted, never timed.

A complete launch is what the launch storm benchmark walks (bench/bench_storm.py): the OIDC
login, the platform's authorization, the launch POST and every redirect up to the learner's
checklist. Each is counted in round trips to the database server: every statement, plus the
BEGIN the driver sends before a transaction's first statement and the COMMIT or ROLLBACK that
ends it. The pool's liveness check would be one more per checkout; it is off (see
``test_no_ping_per_checkout``), so none is counted.

The targets (docs/architecture.md §3) hold on PostgreSQL; on SQLite the count is printed and
only bounded loosely, since SQLite takes the simpler path of several statements.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from support.lti_platform import LEARNER, Browser, LaunchSpec

# What a launch costs today (PostgreSQL, SQLite): one more round trip fails the test.
BUDGET = {"postgresql": 14, "sqlite": 25}
# The goal (PostgreSQL), not reached yet: the strict xfail below turns red the day it is, so
# BUDGET is tightened then. The remaining round trips are the checklist page's own reads
# (its transaction, the framework's content hash, signers, sign-offs, requests, credentials)
# and the launch's BEGIN, session INSERT and COMMIT: see bench/RESULTS.md.
FIRST_LAUNCH_TARGET = 8  # a learner's first launch in a course that exists
RETURN_LAUNCH_TARGET = 6  # the same learner again


@dataclass
class RoundTrips:
    """Statements and transaction boundaries sent to the server, from engine events."""

    statements: list[str] = field(default_factory=list)
    begins: int = 0
    ends: int = 0
    _open: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        return len(self.statements) + self.begins + self.ends

    def statement(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with self._lock:
            self.statements.append(" ".join(statement.split())[:160])
            # The driver opens the transaction (BEGIN) before its first statement, unless the
            # connection is in autocommit (the statement is its own transaction).
            autocommit = getattr(conn.connection.dbapi_connection, "autocommit", False) is True
            if not autocommit and id(conn) not in self._open:
                self._open.add(id(conn))
                self.begins += 1

    def end(self, conn: Any) -> None:
        with self._lock:
            if id(conn) in self._open:  # a transaction with no statement sends nothing
                self._open.discard(id(conn))
                self.ends += 1

    def __str__(self) -> str:
        lines = "\n".join(f"  {s}" for s in self.statements)
        return f"{self.total} round trips ({self.begins} BEGIN, {self.ends} END):\n{lines}"


@contextmanager
def counting(engine: Engine) -> Iterator[RoundTrips]:
    trips = RoundTrips()
    listeners = [
        ("before_cursor_execute", trips.statement),
        ("commit", trips.end),
        ("rollback", trips.end),
    ]
    for name, fn in listeners:
        event.listen(engine, name, fn)
    try:
        yield trips
    finally:
        for name, fn in listeners:
            event.remove(engine, name, fn)


@pytest.fixture
def pinned(seed_version) -> dict[str, str]:
    """Custom parameters that pin the link to the seed framework at its first launch."""
    return {
        "skillsign_framework": seed_version["identifier"],
        "skillsign_version": seed_version["version"],
    }


def _launch(platform: Any, user: str, custom: dict[str, str]) -> None:
    result = Browser().launch(platform, LaunchSpec(user_id=user, roles=[LEARNER], custom=custom))
    assert result.launch.status_code == 303, result.launch.text[:300]
    assert result.landing is not None and result.landing.status_code == 200
    assert result.landing.url.endswith("/checklist"), result.landing.url


def _first_and_return(
    platform: Any, pinned: dict[str, str], engine: Engine
) -> tuple[RoundTrips, RoundTrips]:
    # The course, its link (pinned here) and the per-process caches exist before the count,
    # as they do for the storm's learners after the first one.
    _launch(platform, "warm-up", pinned)
    with counting(engine) as first:
        _launch(platform, "learner-1", pinned)
    with counting(engine) as again:
        _launch(platform, "learner-1", pinned)
    print(f"first launch: {first}\nreturn launch: {again}")
    # The count saw the launch at all (a listener on the wrong engine would see nothing).
    assert any("nonce" in s for s in first.statements), str(first)
    return first, again


def test_round_trips_per_launch_stay_within_budget(platform, pinned, db) -> None:
    """A learner's first and return launch cost no more round trips than today."""
    first, again = _first_and_return(platform, pinned, db.engine)
    assert first.total <= BUDGET[db.dialect], str(first)
    assert again.total <= BUDGET[db.dialect], str(again)


@pytest.mark.xfail(strict=True, reason="target not reached yet: 14 round trips on PostgreSQL")
def test_round_trips_per_launch_reach_the_target(platform, pinned, db) -> None:
    if db.dialect != "postgresql":
        pytest.xfail("the targets are PostgreSQL's (SQLite runs the simpler path)")
    first, again = _first_and_return(platform, pinned, db.engine)
    assert first.total <= FIRST_LAUNCH_TARGET, str(first)
    assert again.total <= RETURN_LAUNCH_TARGET, str(again)
