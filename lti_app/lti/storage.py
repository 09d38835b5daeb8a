"""Short-lived LTI state in the database, shared by every worker and host.

pylti1p3 keeps state, nonces and launch data in the Flask session or a
process cache; several gunicorn workers behind a load balancer need one store
(docs/architecture.md §2), and its nonces are never consumed (docs/architecture.md §4). Here:

* ``DbLaunchDataStorage`` is pylti1p3's launch-data storage over ``lti_launch_data``;
* OIDC states are rows of ``lti_launch_data`` taken (deleted) once at launch;
* nonces are inserted into ``lti_nonces`` at launch: the primary key makes a
  second use fail in whichever process it arrives.

Everything runs in the caller's transaction: a launch that fails later rolls
its state and nonce back, so a refused attempt burns nothing.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta
from typing import Any, cast

from pylti1p3.launch_data_storage.base import LaunchDataStorage
from sqlalchemy import CursorResult, Engine, bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lti_app.db import utcnow
from lti_app.db.models import LaunchData, LaunchSession, Nonce
from lti_app.lti import registry_cache

STATE_TTL = timedelta(minutes=10)
LAUNCH_DATA_TTL = timedelta(hours=1)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


# -- generic keyed values with a TTL -------------------------------------------
_PUT: dict[str, Any] = {}


def put_value(session: Session, key: str, value: dict[str, Any], ttl: timedelta) -> None:
    dialect = session.get_bind().dialect.name
    stmt = _PUT.get(dialect)
    if stmt is None:  # built once: constructing ``excluded`` is the slow part
        base = _insert(session)(LaunchData)
        stmt = _PUT[dialect] = base.on_conflict_do_update(
            index_elements=["key"],
            set_={"value": base.excluded.value, "expires_at": base.excluded.expires_at},
        )
    session.connection().execute(stmt, {"key": key, "value": value, "expires_at": utcnow() + ttl})


def get_value(session: Session, key: str) -> dict[str, Any] | None:
    row = session.execute(
        select(LaunchData.value).where(LaunchData.key == key, LaunchData.expires_at > utcnow())
    ).first()
    return None if row is None else row[0]


def take_value(session: Session, key: str) -> dict[str, Any] | None:
    """Delete and return a live value: of two concurrent takers only one gets it."""
    row = session.execute(
        delete(LaunchData)
        .where(LaunchData.key == key, LaunchData.expires_at > utcnow())
        .returning(LaunchData.value)
    ).first()
    return None if row is None else row[0]


# -- OIDC state ---------------------------------------------------------------
def state_key(state: str) -> str:
    return "state:" + digest(state)


_STATE_NOW: dict[str, Any] = {}


def save_state(session: Session, state: str, record: dict[str, Any]) -> int | None:
    """Store a login's state. On PostgreSQL: one statement, committed on its own.

    The row is written in autocommit (no BEGIN, no COMMIT: one round trip instead of three)
    and with ``synchronous_commit`` off for that transaction only (``set_config(..., true)``
    is ``SET LOCAL`` inside the statement): the commit does not wait for the WAL flush. A
    crash can lose the last fraction of a second of such rows, and a lost state costs one
    learner one click (launch again); it never grants anything (docs/architecture.md §3).
    SQLite keeps the row in the request's transaction.

    Returns the registry's stamp (PostgreSQL; None on SQLite), read by the same statement.
    """
    if session.get_bind().dialect.name != "postgresql":
        put_value(session, state_key(state), record, STATE_TTL)
        return None
    stmt = _STATE_NOW.get("pg")
    if stmt is None:  # built once, like the other upserts here
        cheap = select(func.set_config("synchronous_commit", "off", True).label("sc")).subquery()
        source = select(
            bindparam("key", type_=LaunchData.__table__.c.key.type),
            bindparam("value", type_=LaunchData.__table__.c.value.type),
            bindparam("expires_at", type_=LaunchData.__table__.c.expires_at.type),
        ).select_from(cheap)
        base = postgresql.insert(LaunchData).from_select(["key", "value", "expires_at"], source)
        stmt = _STATE_NOW["pg"] = base.on_conflict_do_update(
            index_elements=["key"],
            set_={"value": base.excluded.value, "expires_at": base.excluded.expires_at},
        ).returning(registry_cache.STAMP)
    values = {"key": state_key(state), "value": record, "expires_at": utcnow() + STATE_TTL}
    engine = cast("Engine", session.get_bind())  # sessionmaker(engine): never a Connection
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return conn.execute(stmt, values).scalar()


def take_state(session: Session, state: str) -> dict[str, Any] | None:
    return take_value(session, state_key(state))


# -- nonces -------------------------------------------------------------------
def consume_nonce(session: Session, nonce: str, issuer: str, expires_at: datetime) -> bool:
    """Record a nonce as used; False when it was used before (a replay).

    The nonce is stored hashed: constant length whatever the platform sends.
    It must be kept at least until the id_token carrying it expires.
    """
    # RETURNING, not rowcount: psycopg reports no rowcount for this INSERT.
    inserted = session.execute(
        _insert(session)(Nonce)
        .values(nonce=digest(nonce), issuer=issuer[:512], expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["nonce"])
        .returning(Nonce.nonce)
    ).first()
    return inserted is not None


_NONCE_AND_STATE: dict[str, Any] = {}


def consume_nonce_and_take_state(
    session: Session, nonce: str, issuer: str, expires_at: datetime, state: str
) -> tuple[bool, dict[str, Any] | None, int | None]:
    """``consume_nonce`` and ``take_state`` at once: (nonce was fresh, the state's record,
    the registry's stamp: None on SQLite).

    On PostgreSQL both run in one statement (two data-modifying CTEs): one round trip
    instead of two. The caller refuses the launch if either fails, and the request's
    rollback then undoes both, as with two statements. SQLite runs the two statements.
    """
    if session.get_bind().dialect.name != "postgresql":
        fresh = consume_nonce(session, nonce, issuer, expires_at)
        return fresh, take_state(session, state), None
    stmt = _NONCE_AND_STATE.get("pg")
    if stmt is None:
        used = (
            postgresql.insert(Nonce)
            .values(
                nonce=bindparam("nonce"), issuer=bindparam("issuer"), expires_at=bindparam("exp")
            )
            .on_conflict_do_nothing(index_elements=["nonce"])
            .returning(Nonce.nonce)
            .cte("used")
        )
        taken = (
            delete(LaunchData)
            .where(LaunchData.key == bindparam("key"), LaunchData.expires_at > bindparam("now"))
            .returning(LaunchData.value)
            .cte("taken")
        )
        stmt = _NONCE_AND_STATE["pg"] = select(
            select(func.count()).select_from(used).scalar_subquery().label("fresh"),
            select(taken.c.value).scalar_subquery().label("record"),
            registry_cache.STAMP.label("stamp"),
        )
    row = session.execute(
        stmt,
        {
            "nonce": digest(nonce),
            "issuer": issuer[:512],
            "exp": expires_at,
            "key": state_key(state),
            "now": utcnow(),
        },
    ).one()
    return bool(row.fresh), row.record, row.stamp


# -- cleanup ------------------------------------------------------------------
_last_purge = 0.0
PURGE_EVERY = 60.0  # seconds, per process


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Delete expired states, launch data, nonces and launch sessions."""
    moment = now or utcnow()
    removed = 0
    for model in (LaunchData, Nonce, LaunchSession):
        deleted = session.execute(delete(model).where(model.expires_at < moment))
        removed += cast("CursorResult[Any]", deleted).rowcount or 0  # a DELETE: it has rowcount
    return removed


def maybe_purge(session: Session) -> None:
    """Purge at most once a minute per process, so expired rows never pile up."""
    global _last_purge
    if time.monotonic() - _last_purge < PURGE_EVERY:
        return
    _last_purge = time.monotonic()
    purge_expired(session)


# -- pylti1p3 adapter ---------------------------------------------------------
class DbLaunchDataStorage(LaunchDataStorage[Any]):
    """pylti1p3 launch data in ``lti_launch_data``.

    Keys are random launch ids that never leave the server (the launch session
    refers to them), so no per-browser key prefix is needed; that prefix is
    what pylti1p3's cache storage silently drops over HTTP (docs/architecture.md §4).
    """

    def __init__(self, session: Session, ttl: timedelta = LAUNCH_DATA_TTL) -> None:
        super().__init__()
        self._db = session
        self._ttl = ttl

    def get_session_cookie_name(self) -> None:
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def _key(self, key: str) -> str:
        return "pylti1p3:" + self._prepare_key(key)

    def get_value(self, key: str) -> Any:
        found = get_value(self._db, self._key(key))
        return None if found is None else found.get("v")

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        ttl = timedelta(seconds=exp) if exp else self._ttl
        put_value(self._db, self._key(key), {"v": value}, min(ttl, self._ttl))

    def check_value(self, key: str) -> bool:
        return get_value(self._db, self._key(key)) is not None
