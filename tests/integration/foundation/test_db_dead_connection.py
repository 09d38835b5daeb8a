"""A pooled connection the server killed between two requests costs the next request nothing.

The pool no longer pings on every checkout (a round trip each time); instead a connection the
server ended is found at checkout by looking at its socket, and replaced (lti_app/db/engine.py).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from lti_app.db.engine import make_engine, server_closed


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(database_url: str, pid: int) -> None:
    """Kill one backend from another connection, and wait until its client can tell."""
    admin = make_engine(database_url)
    try:
        with admin.begin() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        admin.dispose()


def _idle(engine) -> list:
    """The pool's idle DBAPI connections (psycopg knows each one's backend pid locally)."""
    return [record.dbapi_connection for record in list(engine.pool._pool.queue)]


def _wait_until_closed(engine, timeout: float = 5.0) -> None:
    """The FATAL notice reaches each idle pooled connection's socket shortly after the kill."""
    deadline = time.monotonic() + timeout
    while not all(server_closed(conn) for conn in _idle(engine)):
        assert time.monotonic() < deadline, "a killed connection never looked closed"
        time.sleep(0.02)


def test_a_connection_killed_between_requests_is_replaced(app, db, database_url) -> None:
    if db.dialect != "postgresql":
        pytest.skip("pg_terminate_backend: PostgreSQL only")
    assert db.engine.pool._pre_ping is False  # no round trip per checkout
    client = app.test_client()
    db.engine.dispose()
    assert client.get("/healthz").status_code == 200
    # Every idle connection of the app's pool is killed: the next request can only get a
    # dead one from the pool, or a new one.
    before = {conn.info.backend_pid for conn in _idle(db.engine)}
    assert before
    for pid in before:
        _terminate(database_url, pid)
    _wait_until_closed(db.engine)

    answer = client.get("/healthz")

    assert answer.status_code == 200, answer.text
    assert _backend_pid(db.engine) not in before  # served by a new connection


def test_without_the_checkout_check_the_killed_connection_fails(database_url) -> None:
    """The control: the same kill breaks a plain pool without a ping, so the test above
    shows the check at work, not a lucky pool."""
    if not database_url.startswith("postgresql"):
        pytest.skip("pg_terminate_backend: PostgreSQL only")
    from sqlalchemy import create_engine

    plain = create_engine(database_url, pool_size=1, pool_pre_ping=False)
    try:
        pid = _backend_pid(plain)
        _terminate(database_url, pid)
        _wait_until_closed(plain)
        with pytest.raises(OperationalError), plain.connect() as conn:
            conn.execute(text("SELECT 1"))
        # SQLAlchemy invalidated the pool on the disconnect: the next checkout is fresh.
        assert _backend_pid(plain) != pid
    finally:
        plain.dispose()
