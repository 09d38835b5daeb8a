"""The transactional outbox: enqueue in the caller's transaction, deliver later.

Delivery is at-least-once and never loses a row:

- A worker *claims* due rows by setting a lease (``locked_until``) and counting
  the attempt, in a short transaction of its own (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, so concurrent workers never take the same row; a conditional
  UPDATE on SQLite, whose writers are serialised anyway).
- It delivers with no transaction open, then records the outcome only if it
  still holds the lease. A worker that crashed, or outlived its lease, leaves
  the row to be claimed again when the lease ends.
- Failures are retried with exponential backoff, jitter and a cap; a permanent
  failure, or too many attempts, makes the row ``dead`` with ``last_error``
  saying why. Dead rows are reported (``skillsign outbox list``) and can be
  requeued by hand once the cause is fixed.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, insert, or_, select, update
from sqlalchemy.orm import Session

from keys import KeyStore
from lti_app.db import Database, utcnow
from lti_app.db.models import OutboxMessage
from lti_app.lms import TIMEOUT, AccessTokenCache
from lti_app.logs import scrub
from lti_app.outbound import PLATFORM, Fetcher, Timeout

log = logging.getLogger("skillsign.outbox")

_KEY_CHUNK = 1000  # dedupe keys per statement, well under any bound-parameter limit

PENDING, SENT, DEAD = "pending", "sent", "dead"
STATUSES = (PENDING, SENT, DEAD)


# -- outcomes a handler can signal -------------------------------------------------
class PermanentFailure(Exception):
    """Retrying cannot help (e.g. the LMS refuses this learner): the row goes dead."""


class RetryLater(Exception):
    """A passing failure; ``retry_after`` (seconds) when the other side said when."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Delivered:
    """Success. ``payload`` replaces the stored one (what was really sent); ``note``
    records something worth knowing, e.g. that the LMS already had a newer score."""

    payload: dict[str, Any] | None = None
    note: str | None = None


@dataclass(frozen=True)
class Claimed:
    """A row this worker holds until ``lease`` (the lease value is its claim token)."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int  # including this one
    lease: datetime


@dataclass
class DeliveryContext:
    """What handlers need: the database, the tool's keys, HTTP and its token cache."""

    db: Database
    keys: KeyStore
    http: Fetcher = field(default_factory=lambda: Fetcher(PLATFORM))
    tokens: AccessTokenCache = field(default_factory=AccessTokenCache)
    timeout: Timeout = TIMEOUT


Handler = Callable[[Claimed, DeliveryContext], Delivered | None]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10
    base_seconds: float = 15.0
    cap_seconds: float = 3600.0

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds before the next try: doubling, capped, with "equal jitter" so
        many rows failing together (an LMS outage) do not all retry at once."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        delay = ceiling / 2 + random.random() * ceiling / 2
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap_seconds))
        return delay


# -- handlers registry: later kinds plug in here -------------------------------------
_HANDLERS: dict[str, Handler] = {}


def register_handler(kind: str, handler: Handler) -> None:
    """Deliver outbox rows of ``kind`` with ``handler`` (replaces an earlier one)."""
    _HANDLERS[kind] = handler


def registered_handlers() -> dict[str, Handler]:
    return dict(_HANDLERS)


def deliver_notification(message: Claimed, _ctx: DeliveryContext) -> Delivered:
    """The default "notification" handler: one log line. E-mail or webhooks replace
    it with ``register_handler("notification", ...)``."""
    log.info(
        "notification",
        extra={"outbox_id": message.id, "notification": scrub(message.payload)},
    )
    return Delivered()


# -- writing --------------------------------------------------------------------
def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Add a message in the caller's transaction.

    With a ``dedupe_key``, a pending row with the same key that no worker holds
    gets the new payload instead (a newer score replaces an older one that was
    never sent). A row a worker holds right now is left alone and a new row is
    added: the conditional UPDATE makes this safe against a concurrent claim.
    """
    if not kind:
        raise ValueError("outbox message needs a kind")
    moment = utcnow()
    if dedupe_key:
        replaced = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.dedupe_key == dedupe_key,
                OutboxMessage.status == PENDING,
                or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= moment),
            )
            .values(payload=payload, kind=kind)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ).scalars()
        ids = sorted(replaced)
        if ids:
            row = session.get(OutboxMessage, ids[-1], populate_existing=True)
            assert row is not None
            return row
    row = OutboxMessage(
        kind=kind,
        payload=payload,
        dedupe_key=dedupe_key,
        status=PENDING,
        attempts=0,
        next_attempt_at=moment,
        created_at=moment,
    )
    session.add(row)
    session.flush()
    return row


def enqueue_many(
    session: Session,
    kind: str,
    messages: Iterable[tuple[dict[str, Any], str]],
) -> int:
    """:func:`enqueue` for many ``(payload, dedupe_key)`` messages at a fixed number of
    statements: the replaceable rows are taken in one UPDATE, given their new payloads in one
    executemany, and the rest inserted in one more. Returns how many messages."""
    if not kind:
        raise ValueError("outbox message needs a kind")
    moment = utcnow()
    by_key: dict[str, dict[str, Any]] = {}
    for payload, key in messages:
        by_key[key] = payload  # a key named twice keeps its last payload, as enqueue would
    replaced: dict[int, str] = {}  # row id -> key
    keys = sorted(by_key)
    for start in range(0, len(keys), _KEY_CHUNK):
        # The no-op UPDATE takes the rows (row locks; SQLite's write lock), so no worker
        # claims one between this statement and the next.
        rows = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.dedupe_key.in_(keys[start : start + _KEY_CHUNK]),
                OutboxMessage.status == PENDING,
                or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= moment),
            )
            .values(kind=kind)
            .returning(OutboxMessage.id, OutboxMessage.dedupe_key)
            .execution_options(synchronize_session=False)
        )
        replaced.update((row_id, key) for row_id, key in rows)  # type: ignore[misc]  # IN keys: never NULL
    if replaced:
        session.execute(
            update(OutboxMessage),
            [{"id": row_id, "payload": by_key[key]} for row_id, key in replaced.items()],
        )
    found = set(replaced.values())
    enqueue_new(
        session,
        kind,
        [(payload, key) for key, payload in by_key.items() if key not in found],
        now=moment,
    )
    return len(by_key)


def enqueue_new(
    session: Session,
    kind: str,
    messages: Iterable[tuple[dict[str, Any], str | None]],
    *,
    now: datetime | None = None,
) -> int:
    """Add ``(payload, dedupe_key)`` messages in one bulk INSERT; returns how many.

    Only for keys no row can have yet, because each names something made in this very
    transaction (``credential.issued:<new id>``): :func:`enqueue`'s replace check would find
    nothing, one query per message.
    """
    if not kind:
        raise ValueError("outbox message needs a kind")
    moment = now or utcnow()
    rows = [
        {
            "kind": kind,
            "payload": payload,
            "dedupe_key": key,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": moment,
            "created_at": moment,
        }
        for payload, key in messages
    ]
    if rows:
        session.execute(insert(OutboxMessage), rows)
    return len(rows)


def _due(moment: datetime) -> Any:
    return (
        (OutboxMessage.status == PENDING)
        & (OutboxMessage.next_attempt_at <= moment)
        & or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= moment)
    )


def claim_due(
    db: Database,
    *,
    limit: int = 20,
    lease: timedelta = timedelta(minutes=5),
    kinds: Iterable[str] | None = None,
    now: datetime | None = None,
) -> list[Claimed]:
    """Take up to ``limit`` due rows for this worker, committing the lease at once."""
    moment = now or utcnow()
    until = moment + lease
    condition = _due(moment)
    if kinds is not None:
        condition = condition & OutboxMessage.kind.in_(list(kinds))
    claimed: list[Claimed] = []
    with db.transaction() as session:
        if db.dialect == "postgresql":
            rows = session.scalars(
                select(OutboxMessage)
                .where(condition)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                row.locked_until = until
                row.attempts += 1
                claimed.append(Claimed(row.id, row.kind, dict(row.payload), row.attempts, until))
            return claimed
        ids = session.scalars(
            select(OutboxMessage.id)
            .where(condition)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        ).all()
        for row_id in ids:
            # Conditional: another process may have claimed it since the SELECT.
            taken = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, condition)
                .values(locked_until=until, attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage.kind, OutboxMessage.payload, OutboxMessage.attempts)
                .execution_options(synchronize_session=False)
            ).first()
            if taken is not None:
                claimed.append(
                    Claimed(row_id, taken.kind, dict(taken.payload), taken.attempts, until)
                )
    return claimed


def _held(message: Claimed) -> Any:
    return (
        (OutboxMessage.id == message.id)
        & (OutboxMessage.status == PENDING)
        & (OutboxMessage.locked_until == message.lease)
    )


def mark_sent(db: Database, message: Claimed, result: Delivered | None = None) -> bool:
    """Record a delivery; False when the lease was lost (another worker owns the row)."""
    values: dict[str, Any] = {
        "status": SENT,
        "sent_at": utcnow(),
        "locked_until": None,
        "last_error": result.note if result else None,
    }
    if result is not None and result.payload is not None:
        values["payload"] = result.payload
    with db.transaction() as session:
        done = session.execute(
            update(OutboxMessage)
            .where(_held(message))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return cast("CursorResult[Any]", done).rowcount == 1  # an UPDATE: it has rowcount


def mark_failed(
    db: Database,
    message: Claimed,
    error: str,
    *,
    permanent: bool,
    retry_after: float | None = None,
    policy: RetryPolicy | None = None,
) -> str | None:
    """Schedule a retry, or bury the row; the new status, or None if the lease was lost."""
    rules = policy or RetryPolicy()
    moment = utcnow()
    error = str(scrub(error))[:2000]
    if permanent or message.attempts >= rules.max_attempts:
        status = DEAD
        if not permanent:
            error = f"gave up after {message.attempts} attempts: {error}"
        values: dict[str, Any] = {"status": DEAD, "locked_until": None, "last_error": error}
    else:
        status = PENDING
        delay = rules.delay(message.attempts, retry_after)
        values = {
            "locked_until": None,
            "last_error": error,
            "next_attempt_at": moment + timedelta(seconds=delay),
        }
    with db.transaction() as session:
        done = session.execute(
            update(OutboxMessage)
            .where(_held(message))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return status if cast("CursorResult[Any]", done).rowcount == 1 else None


def release(db: Database, message: Claimed) -> bool:
    """Give a claimed row back untried: the lease ends and the attempt is not counted."""
    with db.transaction() as session:
        done = session.execute(
            update(OutboxMessage)
            .where(_held(message))
            .values(locked_until=None, attempts=OutboxMessage.attempts - 1)
            .execution_options(synchronize_session=False)
        )
        return cast("CursorResult[Any]", done).rowcount == 1  # an UPDATE: it has rowcount


# -- reporting and repair ---------------------------------------------------------
def counts(session: Session) -> dict[str, int]:
    found = dict(
        session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    )
    return {status: int(found.get(status, 0)) for status in STATUSES}


def list_messages(
    session: Session, *, status: str | None = None, limit: int = 50
) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query))


def requeue(session: Session, ids: Iterable[int]) -> int:
    """Give dead rows a fresh start (after the cause was fixed); returns how many."""
    wanted = list(ids)
    if not wanted:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(wanted), OutboxMessage.status == DEAD)
        .values(
            status=PENDING,
            attempts=0,
            next_attempt_at=utcnow(),
            locked_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(cast("CursorResult[Any]", result).rowcount or 0)  # an UPDATE: it has rowcount
