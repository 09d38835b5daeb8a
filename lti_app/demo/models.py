"""The demo LMS's own small database (not skillsign's schema, so ``create_all`` is fine).

It lives in one SQLite file under the instance directory and holds what a
platform knows: a course, its people, resource links, line items, scores,
and the access tokens it issued.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lti_app.db.base import UTCDateTime, utcnow


class DemoBase(DeclarativeBase):
    metadata = MetaData()
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class DemoCourse(DemoBase):
    __tablename__ = "courses"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(64))


class DemoUser(DemoBase):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the LTI ``sub``
    name: Mapped[str] = mapped_column(String(255))
    given_name: Mapped[str] = mapped_column(String(255))
    family_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))  # Canvas's Test Student has none
    locale: Mapped[str] = mapped_column(String(16), default="en")
    position: Mapped[int] = mapped_column(default=0)


class DemoEnrollment(DemoBase):
    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(16))  # instructor | ta | learner
    roles: Mapped[list[str]]  # the LTI role URIs sent in launches and NRPS
    status: Mapped[str] = mapped_column(String(16), default="Active")


class DemoLink(DemoBase):
    """A resource link: an activity in the course that launches the tool."""

    __tablename__ = "links"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # resource_link.id
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"))
    title: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(1024))  # target_link_uri
    custom: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DemoLineItem(DemoBase):
    __tablename__ = "lineitems"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"))
    label: Mapped[str] = mapped_column(String(255))
    score_maximum: Mapped[float]
    resource_link_id: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(255))
    tag: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DemoScore(DemoBase):
    """Every score POST accepted, in order; the latest per user is the result."""

    __tablename__ = "scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    lineitem_id: Mapped[int] = mapped_column(ForeignKey("lineitems.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    score_given: Mapped[float | None]
    score_maximum: Mapped[float | None]
    activity_progress: Mapped[str] = mapped_column(String(32))
    grading_progress: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class DemoAccessToken(DemoBase):
    """Issued bearer tokens, stored hashed: the database never holds a usable token."""

    __tablename__ = "access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    scopes: Mapped[list[str]]
    expires_at: Mapped[datetime]


class DemoUsedAssertion(DemoBase):
    """``jti`` of client assertions already used: each assertion buys one token."""

    __tablename__ = "used_assertions"

    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime]


class DemoUsedDeepLinkResponse(DemoBase):
    """``jti`` of deep linking responses already acted on: a replayed one adds nothing.
    (``create_all`` adds this table to an existing demo database too.)"""

    __tablename__ = "used_deep_link_responses"

    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime]
