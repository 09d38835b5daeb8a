"""Transactional outbox: messages to the outside world (AGS scores, notifications).

Rows are written in the same transaction as the change that causes them; a
worker delivers them later with retries, so an LMS that is down delays the
passback and loses nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from lti_app.db.base import Base, utcnow


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # enqueue's "replace the pending row with this key" (every sign-off queues a score):
        # without it each sign-off reads every pending row, thousands while an LMS is down.
        Index(
            "ix_outbox_pending_dedupe",
            "dedupe_key",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # "ags_score" | "notification"
    payload: Mapped[dict[str, Any]]
    # Collapses duplicates: the latest score of a learner on a link replaces older pending ones.
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|dead
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
