"""Sign-offs: an append-only event log, and learners' requests for sign-off.

Nothing here is ever updated or deleted: an undo is a new event. Progress is
computed from the latest event per (learner, statement), ordered by ``id``, so
two instructors working at once never overwrite each other's rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_app.db.base import Base, utcnow
from lti_app.db.models.lti import User


class SignoffEvent(Base):
    __tablename__ = "signoff_events"
    __table_args__ = (
        # Progress of one learner / of a cohort on one framework version.
        Index("ix_signoff_events_learner_statement", "learner_id", "statement_id", "id"),
        Index("ix_signoff_events_context_statement", "context_id", "statement_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    statement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("statements.id", ondelete="RESTRICT")
    )
    context_id: Mapped[int | None] = mapped_column(ForeignKey("contexts.id", ondelete="SET NULL"))
    # None for imported historical records whose signer is not a user here.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    actor_label: Mapped[str | None] = mapped_column(
        String(512)
    )  # e.g. the signer's name on a paper record
    action: Mapped[str] = mapped_column(String(8))  # "sign" | "undo"
    note: Mapped[str | None] = mapped_column(Text)  # private to instructors
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("signoff_requests.id"))
    # When it happened (may predate created_at for imported records).
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Idempotency key for imports and retried submissions.
    source_key: Mapped[str | None] = mapped_column(String(255), unique=True)

    learner: Mapped[User] = relationship(foreign_keys=[learner_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])


class SignoffRequest(Base):
    __tablename__ = "signoff_requests"
    __table_args__ = (Index("ix_signoff_requests_context_status", "context_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    statement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("statements.id", ondelete="RESTRICT")
    )
    context_id: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    evidence_text: Mapped[str] = mapped_column(Text, default="")
    evidence_url: Mapped[str | None] = mapped_column(String(2048))
    evidence_file_name: Mapped[str | None] = mapped_column(String(255))
    evidence_file_type: Mapped[str | None] = mapped_column(String(128))
    evidence_file: Mapped[bytes | None]
    # pending -> approved | declined | withdrawn; each change is also an audit event.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    learner: Mapped[User] = relationship(foreign_keys=[learner_id])
