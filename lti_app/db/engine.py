"""Engine and session factory for one database URL."""

from __future__ import annotations

import logging
import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("skillsign.db")
# Connections older than this are replaced at checkout (server or firewall idle limits).
POOL_RECYCLE = 1800  # seconds


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; busy_timeout makes writers
    # queue instead of failing at once; SQLite checks foreign keys only when asked.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def server_closed(dbapi_connection: Any) -> bool:
    """True when the server has ended this idle connection, found without a round trip.

    An idle connection never has anything to read: the server speaks only when asked.
    When it is terminated (``pg_terminate_backend``, a restart, an idle timeout) the
    server sends its FATAL notice and closes the socket, so the socket turns readable.
    One ``select`` with a zero timeout sees that; a pre-ping (``SELECT 1``) cost a round
    trip on every checkout, a quarter of a launch's round trips. A false alarm (a stray
    notice) only replaces a good connection.
    """
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:  # not psycopg: nothing to look at
        return False
    if dbapi_connection.closed:
        return True
    try:
        readable, _, _ = select.select([pgconn.socket], [], [], 0)
    except Exception:  # OSError, ValueError, or psycopg's own error on a bad socket
        return True
    return bool(readable)


def _replace_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    if server_closed(dbapi_connection):
        log.info("pooled connection closed by the server: replaced")
        # The pool discards this connection and checks out another, up to three times
        # (SQLAlchemy's disconnect handling): the request never sees the dead one.
        raise exc.DisconnectionError("the server closed this connection")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: a dead connection is found at checkout without a round trip
    # (``server_closed``), and a disconnect met in a statement invalidates the whole pool
    # (SQLAlchemy's default), so its other connections are replaced at their next checkout.
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", POOL_RECYCLE)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "checkout", _replace_if_closed)
    return engine


class Database:
    """One engine + session factory; shared by the app, the CLI and the worker."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on any error."""
        with self.sessionmaker() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
