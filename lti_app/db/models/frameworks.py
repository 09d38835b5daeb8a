"""Imported framework versions and their statements.

A version is immutable once imported: resource links and credentials point at
it, so a new version of a framework is a new row, never an update.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_app.db.base import Base, utcnow


class FrameworkVersion(Base):
    __tablename__ = "framework_versions"
    __table_args__ = (UniqueConstraint("identifier", "version"),)

    # uuid5 of identifier + version (frameworks.model.Framework.id): stable across imports.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(512), index=True)
    version: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(512))
    description: Mapped[str] = mapped_column(Text, default="")
    source_format: Mapped[str] = mapped_column(String(32))  # "ler" or "case"
    # The framework in the seed's format: exports and the pure model are rebuilt from it.
    document: Mapped[dict[str, Any]]
    content_hash: Mapped[str] = mapped_column(String(64))
    # Who may use it: NULL = every platform (published by a tool admin with the CLI), else
    # only the platform whose administrator uploaded it (services/frameworks.py, usable_by).
    owner_platform_id: Mapped[int | None] = mapped_column(
        ForeignKey("platforms.id", ondelete="CASCADE"), index=True
    )
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    levels: Mapped[list[FrameworkLevel]] = relationship(
        back_populates="framework_version", order_by="FrameworkLevel.position", lazy="selectin"
    )


class FrameworkLevel(Base):
    __tablename__ = "framework_levels"
    __table_args__ = (UniqueConstraint("framework_version_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    framework_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("framework_versions.id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(String(128))
    label: Mapped[str] = mapped_column(String(512))
    position: Mapped[int]
    # Optional validity of credentials issued for this level, in days.
    credential_valid_days: Mapped[int | None]

    framework_version: Mapped[FrameworkVersion] = relationship(back_populates="levels")
    statements: Mapped[list[Statement]] = relationship(
        back_populates="level", order_by="Statement.position", lazy="selectin"
    )


class Statement(Base):
    __tablename__ = "statements"
    __table_args__ = (UniqueConstraint("level_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    framework_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("framework_versions.id", ondelete="CASCADE"), index=True
    )
    level_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("framework_levels.id", ondelete="CASCADE")
    )
    position: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    competency: Mapped[str] = mapped_column(Text)
    performance: Mapped[str | None] = mapped_column(Text)

    level: Mapped[FrameworkLevel] = relationship(back_populates="statements")
