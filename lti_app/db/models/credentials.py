"""Issued credentials and the revocation status lists they point into."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_app.db.base import Base, utcnow
from lti_app.db.models.lti import User


class StatusList(Base):
    """A Bitstring Status List; indexes are handed out in order, never reused."""

    __tablename__ = "status_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), default="revocation")
    size: Mapped[int]  # bits
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    next_index: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Credential(Base):
    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("status_list_id", "status_index"),
        Index("ix_credentials_learner", "learner_id", "framework_version_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    framework_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("framework_versions.id", ondelete="RESTRICT")
    )
    level_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("framework_levels.id", ondelete="RESTRICT")
    )
    context_id: Mapped[int | None] = mapped_column(ForeignKey("contexts.id", ondelete="SET NULL"))
    # "learner:level" while the credential stands, NULL once revoked: the unique
    # index allows one live credential per learner + level (levels belong to one
    # framework version) and still lets a revoked one be re-issued.
    live_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    status_list_id: Mapped[int] = mapped_column(ForeignKey("status_lists.id"))
    status_index: Mapped[int]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[datetime | None]
    document: Mapped[dict[str, Any]]  # the signed OB 3.0 credential
    jwt: Mapped[str | None] = mapped_column(Text)  # VC-JWT, when the subject has an id
    signing_kid: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    # A copy claimed into a wallet (OpenID4VCI): the learner's credential it copies, and the
    # wallet's DID it is bound to. A copy has its own status index and no live_key, and is
    # revoked with the credential it copies (awarding.revoke).
    # NO ACTION, not RESTRICT: SQLite checks RESTRICT row by row, so emptying the table in
    # one statement would fail on a copy deleted after its original.
    copy_of_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("credentials.id"), index=True)
    holder_did: Mapped[str | None] = mapped_column(String(1024))

    learner: Mapped[User] = relationship(foreign_keys=[learner_id])
    status_list: Mapped[StatusList] = relationship()
