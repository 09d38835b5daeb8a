"""The outbox worker: ``skillsign worker`` in production, a thread in the demo.

Each row is claimed with a lease, delivered with no database transaction
open, and its outcome recorded only while the lease is still ours (see
lti_app/services/outbox.py for why that neither loses nor duplicates work).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask

from keys import KeyStore
from lti_app.config import PRODUCTION
from lti_app.db import Database
from lti_app.lms import TIMEOUT, TOKENS, AccessTokenCache
from lti_app.lti import http as outbound
from lti_app.outbound import PLATFORM, Fetcher, Timeout
from lti_app.services import gradebook, outbox, passback, roster
from lti_app.services.outbox import (
    Claimed,
    DeliveryContext,
    Handler,
    PermanentFailure,
    RetryLater,
    RetryPolicy,
)

log = logging.getLogger("skillsign.worker")

# A run of --once stops after this many batches even if rows keep becoming due.
_MAX_BATCHES = 1000


def default_handlers() -> dict[str, Handler]:
    handlers: dict[str, Handler] = {
        gradebook.KIND: passback.deliver_score,
        roster.KIND: roster.deliver_sync,
        "notification": outbox.deliver_notification,
    }
    handlers.update(outbox.registered_handlers())
    return handlers


@dataclass
class RunStats:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    lease_lost: int = 0

    def add(self, other: RunStats) -> None:
        for name in ("claimed", "sent", "retrying", "dead", "lease_lost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Worker:
    """Delivers due outbox rows; one instance per thread."""

    def __init__(
        self,
        db: Database,
        keys: KeyStore,
        *,
        handlers: Mapping[str, Handler] | None = None,
        policy: RetryPolicy | None = None,
        batch: int = 20,
        lease: timedelta = timedelta(minutes=5),
        http: Fetcher | None = None,
        tokens: AccessTokenCache | None = None,
        timeout: Timeout = TIMEOUT,
    ) -> None:
        self.db = db
        self.handlers = dict(handlers) if handlers is not None else default_handlers()
        self.policy = policy or RetryPolicy()
        self.batch = batch
        self.lease = lease
        self.context = DeliveryContext(
            db=db,
            keys=keys,
            http=http or Fetcher(PLATFORM),
            tokens=tokens if tokens is not None else TOKENS,
            timeout=timeout,
        )

    @classmethod
    def from_app(cls, app: Flask, **kwargs: object) -> Worker:
        kwargs.setdefault("http", outbound.client(app))  # the app's bulkhead, in its process
        return cls(
            app.extensions["skillsign.db"],
            KeyStore(app.config["KEYS_DIR"]),
            **kwargs,  # type: ignore[arg-type]
        )

    def deliver(self, message: Claimed) -> str:
        """Deliver one claimed row; returns "sent", "retrying", "dead" or "lease_lost"."""
        handler = self.handlers.get(message.kind)
        try:
            if handler is None:
                raise PermanentFailure(f"no handler for outbox kind {message.kind!r}")
            result = handler(message, self.context)
        except PermanentFailure as exc:
            status = outbox.mark_failed(self.db, message, str(exc), permanent=True)
        except RetryLater as exc:
            status = outbox.mark_failed(
                self.db,
                message,
                str(exc),
                permanent=False,
                retry_after=exc.retry_after,
                policy=self.policy,
            )
        except Exception as exc:  # a bug or an outage we did not foresee: retry, bounded
            log.exception("outbox delivery crashed", extra={"outbox_id": message.id})
            status = outbox.mark_failed(
                self.db,
                message,
                f"{type(exc).__name__}: {exc}",
                permanent=False,
                policy=self.policy,
            )
        else:
            status = "sent" if outbox.mark_sent(self.db, message, result) else None
        outcome = {"pending": "retrying", None: "lease_lost"}.get(status, status)
        log.info(
            "outbox delivery",
            extra={
                "outbox_id": message.id,
                "kind": message.kind,
                "attempt": message.attempts,
                "outcome": outcome,
            },
        )
        return str(outcome)

    def run_once(self, now: datetime | None = None) -> RunStats:
        """Deliver every row that is due now, then return."""
        stats = RunStats()
        seen: set[int] = set()
        for _ in range(_MAX_BATCHES):
            claimed = outbox.claim_due(
                self.db, limit=self.batch, lease=self.lease, kinds=self.handlers.keys(), now=now
            )
            if not claimed or all(m.id in seen for m in claimed):
                # Nothing due, or only rows we already tried in this run (a zero delay).
                for message in claimed:
                    self._release(message)
                break
            for message in claimed:
                seen.add(message.id)
                stats.claimed += 1
                outcome = self.deliver(message)
                setattr(stats, outcome, getattr(stats, outcome) + 1)
        return stats

    def _release(self, message: Claimed) -> None:
        # Give back a row claimed only to find it was already tried in this run.
        outbox.release(self.db, message)

    def run(self, stop: threading.Event, poll_seconds: float = 5.0) -> None:
        """Poll until ``stop`` is set; a failing poll (database down) is logged and retried."""
        log.info("worker started", extra={"poll_seconds": poll_seconds})
        while not stop.is_set():
            try:
                stats = self.run_once()
                if stats.claimed:
                    log.info("worker pass", extra=stats.__dict__)
            except Exception:
                log.exception("worker pass failed")
            stop.wait(poll_seconds)
        log.info("worker stopped")


class BackgroundWorker:
    """The in-process worker thread of the demo (never in production)."""

    def __init__(self, worker: Worker, poll_seconds: float) -> None:
        self.worker = worker
        self.stop_event = threading.Event()
        self.thread = threading.Thread(
            target=worker.run,
            args=(self.stop_event, poll_seconds),
            name="skillsign-outbox-worker",
            daemon=True,  # a demo server stopped with Ctrl-C must not hang on it
        )

    def start(self) -> BackgroundWorker:
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)


def start_background_worker(app: Flask, poll_seconds: float = 2.0) -> BackgroundWorker:
    """Deliver the outbox from a thread of this process (demo, development, tests).

    Production runs ``skillsign worker`` processes instead: a web process may be
    killed or scaled at any moment, and several of them would each run a thread.
    """
    if app.config["ENV"] == PRODUCTION:
        raise RuntimeError(
            "the in-process worker is for the demo and development; "
            "in production run `skillsign worker`"
        )
    background = BackgroundWorker(Worker.from_app(app), poll_seconds).start()
    app.extensions["skillsign.background_worker"] = background
    return background
