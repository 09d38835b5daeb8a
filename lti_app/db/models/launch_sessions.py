"""Server-side sessions, one per LTI launch (the ``/s/<token>/`` pages)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lti_app.db.base import Base, utcnow


class LaunchSession(Base):
    """Who launched, where, with which rights; plus the Flask session dict of that launch.

    The browser holds the token in the URL; only its SHA-256 is stored, so a
    copy of the table opens no session.
    """

    __tablename__ = "launch_sessions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    # "active", or "pending" while the platform-storage check of a cookie-less launch runs.
    status: Mapped[str] = mapped_column(String(16), default="active")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    context_id: Mapped[int | None] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    resource_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("resource_links.id", ondelete="CASCADE")
    )
    message_type: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(default=list)  # membership role URIs
    is_instructor: Mapped[bool] = mapped_column(Boolean, default=False)
    is_learner: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)  # of this platform
    is_tool_admin: Mapped[bool] = mapped_column(Boolean, default=False)  # listed in admins
    locale: Mapped[str | None] = mapped_column(String(32))
    # SHA-256 of the browser cookie when the launch was bound by cookie; then only that
    # browser may use the session. NULL for launches bound through platform storage.
    browser_hash: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
