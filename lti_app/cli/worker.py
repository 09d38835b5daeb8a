"""`skillsign worker` and `skillsign outbox ...`"""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from types import FrameType

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_app.cli.common import echo_json as _echo_json
from lti_app.cli.common import fail as _fail
from lti_app.request_db import database
from lti_app.services import outbox
from lti_app.worker import Worker


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option(
    "--poll-seconds",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Pause between passes when nothing is due.",
)
@click.option("--batch", type=click.IntRange(min=1), default=20, show_default=True)
@click.option(
    "--lease-seconds",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="How long a claimed message is this worker's; after a crash it is retried then.",
)
@with_appcontext
def worker_command(once: bool, poll_seconds: float, batch: int, lease_seconds: float) -> None:
    """Deliver outbox messages (grade passback) with retries and backoff."""
    worker = Worker.from_app(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        batch=batch,
        lease=timedelta(seconds=lease_seconds),
    )
    if once:
        stats = worker.run_once()
        click.echo(
            f"claimed {stats.claimed}: sent {stats.sent}, retrying {stats.retrying}, "
            f"dead {stats.dead}, lease lost {stats.lease_lost}"
        )
        return
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        # Finish the row in hand, then exit: its lease would otherwise delay it.
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run(stop, poll_seconds)


@click.group("outbox")
def outbox_group() -> None:
    """Outbox messages: report and requeue."""


@outbox_group.command("list")
@click.option("--status", type=click.Choice(outbox.STATUSES), default=None)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def outbox_list(status: str | None, limit: int, as_json: bool) -> None:
    """Show the latest messages, with counts per status."""
    with database().transaction() as session:
        totals = outbox.counts(session)
        rows = [
            {
                "id": m.id,
                "kind": m.kind,
                "status": m.status,
                "attempts": m.attempts,
                "next_attempt_at": m.next_attempt_at.isoformat(),
                "last_error": m.last_error,
            }
            for m in outbox.list_messages(session, status=status, limit=limit)
        ]
    if as_json:
        _echo_json({"counts": totals, "messages": rows})
        return
    click.echo(", ".join(f"{k} {v}" for k, v in totals.items()))
    for row in rows:
        error = f"  {row['last_error']}" if row["last_error"] else ""
        click.echo(f"{row['id']:>6} {row['kind']:12} {row['status']:8} x{row['attempts']}{error}")


@outbox_group.command("requeue")
@click.argument("ids", nargs=-1, type=int, required=True)
@with_appcontext
def outbox_requeue(ids: tuple[int, ...]) -> None:
    """Send dead messages IDS again (after fixing what made them fail)."""
    with database().transaction() as session:
        count = outbox.requeue(session, ids)
    if count == 0:
        _fail("none of those ids is a dead message (see `skillsign outbox list --status dead`)")
    click.echo(f"requeued {count} message(s)")
