"""LTI registry and the people and places it tells us about."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_app.db.base import Base, utcnow


class Platform(Base):
    """A registered LMS (one issuer + client_id pair)."""

    __tablename__ = "platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    issuer: Mapped[str] = mapped_column(String(512))
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(1024))
    auth_token_url: Mapped[str] = mapped_column(String(1024))
    jwks_url: Mapped[str] = mapped_column(String(1024))
    auth_audience: Mapped[str | None] = mapped_column(String(1024))
    # "canvas", "moodle", "generic": drives the quirks we work around.
    product: Mapped[str] = mapped_column(String(32), default="generic")
    # Registration data kept for the admin (dynamic registration response, etc.).
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan", lazy="selectin"
    )


class Deployment(Base):
    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    # "approved" or "pending" (seen in a launch, waiting for an admin).
    status: Mapped[str] = mapped_column(String(16), default="approved")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None]

    platform: Mapped[Platform] = relationship(back_populates="deployments")


class User(Base):
    """A person, known by the platform's issuer and their ``sub``."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("issuer", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(512))
    sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(512))
    given_name: Mapped[str | None] = mapped_column(String(255))
    family_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(512))
    locale: Mapped[str | None] = mapped_column(String(32))
    # The language the person chose in skillsign's menu; the LMS's ``locale`` is the default.
    ui_locale: Mapped[str | None] = mapped_column(String(8))
    # Learner choices for their credentials.
    wallet_did: Mapped[str | None] = mapped_column(String(1024))
    show_name_on_credentials: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the learner last chose (NULL: never asked; a wallet offer asks first).
    name_choice_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]


class Context(Base):
    """A course (LTI context) on one platform."""

    __tablename__ = "contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    deployment_id: Mapped[int | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="SET NULL")
    )
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(512))
    label: Mapped[str | None] = mapped_column(String(255))
    # NRPS endpoint and the last roster sync.
    memberships_url: Mapped[str | None] = mapped_column(String(1024))
    roster_synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    platform: Mapped[Platform] = relationship()


class ResourceLink(Base):
    """A placement of a checklist in a course, pinned to one framework version."""

    __tablename__ = "resource_links"
    __table_args__ = (UniqueConstraint("context_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(512))
    framework_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("framework_versions.id", ondelete="RESTRICT")
    )
    # The level keys linked; an empty list with a framework set means "the whole framework".
    level_keys: Mapped[list[str]] = mapped_column(default=list)
    # AGS endpoints from the launch.
    lineitem_url: Mapped[str | None] = mapped_column(String(1024))
    lineitems_url: Mapped[str | None] = mapped_column(String(1024))
    ags_scopes: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    context: Mapped[Context] = relationship()


class Membership(Base):
    """A user's roles in one context, from the latest launch or NRPS sync."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("context_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Membership role URIs only: institution roles never grant anything here.
    roles: Mapped[list[str]] = mapped_column(default=list)
    is_instructor: Mapped[bool] = mapped_column(Boolean, default=False)  # Instructor or TA
    is_learner: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16), default="launch")  # launch | nrps
    launched: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()
    context: Mapped[Context] = relationship()


class Admin(Base):
    """A tool administrator made with ``skillsign admins add`` (by issuer + sub or email)."""

    __tablename__ = "admins"
    __table_args__ = (UniqueConstraint("issuer", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str | None] = mapped_column(String(512))
    sub: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(512), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Nonce(Base):
    """An id_token nonce seen once; a second use is a replay."""

    __tablename__ = "lti_nonces"

    nonce: Mapped[str] = mapped_column(String(255), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LaunchData(Base):
    """Short-lived LTI state (OIDC state, launch data) shared by every app process."""

    __tablename__ = "lti_launch_data"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict[str, Any]]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RegistryVersion(Base):
    """One row whose ``stamp`` changes with every change to ``platforms`` or ``deployments``.

    Database triggers (migration ``0007_launch_cost``) set a new random stamp on every
    insert, update, delete or truncate of either table, whoever makes it (CLI, admin page,
    dynamic registration, a launch recording a deployment, plain SQL). Each process caches
    platforms and deployments with the stamp they were read at, and every launch-path
    statement brings the current stamp back with its own answer (lti/registry_cache.py):
    a change is seen by the next login or launch in every process, at no extra round trip.
    """

    __tablename__ = "registry_version"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    stamp: Mapped[int] = mapped_column(BigInteger)
