"""What a validated launch writes: platform context, resource link, user, membership.

Each row is an ``INSERT ... ON CONFLICT DO UPDATE`` keyed on its natural key,
so the first launches of a new course arriving together (the 9:00 Monday
storm) neither fail on a unique constraint nor create duplicates.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lti_app.db import utcnow
from lti_app.db.models import (
    Admin,
    Context,
    Deployment,
    FrameworkLevel,
    FrameworkVersion,
    Membership,
    Platform,
    ResourceLink,
    Statement,
    User,
)
from lti_app.lti import claims as c
from lti_app.lti.roles import Roles, classify
from lti_app.services import frameworks as framework_service
from lti_app.services import registry

log = logging.getLogger("skillsign.launch")

CUSTOM_FRAMEWORK = "skillsign_framework"
CUSTOM_VERSION = "skillsign_version"
CUSTOM_LEVEL = "skillsign_level"


@dataclass(frozen=True)
class LaunchRecord:
    """The rows a launch touched, by primary key, and what the launch may do."""

    user_id: int
    platform_id: int
    context_id: int
    resource_link_id: int | None
    roles: Roles
    is_tool_admin: bool
    locale: str | None
    message_type: str
    # Outcome of configuring the link from custom parameters: None (nothing to do),
    # "pinned", or a sentence saying why the parameters were not used.
    link_setup: str | None = None


# Upsert statements are built once per (dialect, table) and run with parameters:
# building ``excluded`` and its column proxies costs more than running the SQL.
_UPSERTS: dict[tuple[str, str], Any] = {}  # (dialect, table + variant) -> statement


def _upsert(
    session: Session,
    model: Any,
    values: dict[str, Any],
    keys: list[str],
    update: Callable[[Any], dict[str, Any]],
    variant: str = "",
) -> int:
    dialect = session.get_bind().dialect.name
    cache_key = (dialect, model.__tablename__ + variant)
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        base = insert(model)
        stmt = base.on_conflict_do_update(
            index_elements=keys, set_=update(base.excluded)
        ).returning(model.id)
        _UPSERTS[cache_key] = stmt
    # Core fills in the Python-side column defaults (created_at, ...) for missing columns.
    return int(session.connection().execute(stmt, values).scalar_one())


def upsert_user(session: Session, issuer: str, claims: Mapping[str, Any]) -> int:
    now = utcnow()
    values = {
        "issuer": issuer,
        "sub": claims["sub"],
        "name": c.text(claims.get("name"), 512),
        "given_name": c.text(claims.get("given_name"), 255),
        "family_name": c.text(claims.get("family_name"), 255),
        "email": c.text(claims.get("email"), 512),
        "locale": locale_of(claims),
        "last_seen_at": now,
    }

    def update(ex: Any) -> dict[str, Any]:
        # An attribute the platform stopped sending (privacy settings) keeps its last value.
        kept = {
            k: func.coalesce(getattr(ex, k), getattr(User, k))
            for k in ("name", "given_name", "family_name", "email", "locale")
        }
        return {**kept, "last_seen_at": ex.last_seen_at}

    return _upsert(session, User, values, ["issuer", "sub"], update)


def locale_of(claims: Mapping[str, Any]) -> str | None:
    return c.text(claims.get("locale"), 32) or c.text(
        c.obj(claims, c.LAUNCH_PRESENTATION).get("locale"), 32
    )


def upsert_context(
    session: Session, platform: Platform, deployment: Deployment, claims: Mapping[str, Any]
) -> int:
    context = c.obj(claims, c.CONTEXT)
    # The context claim is optional in LTI; without one the deployment stands for the course.
    context_id = c.text(context.get("id"), 255) or f"deployment:{deployment.deployment_id}"[:255]
    memberships_url = c.url(c.obj(claims, c.NRPS).get("context_memberships_url"))
    values = {
        "platform_id": platform.id,
        "deployment_id": deployment.id,
        "context_id": context_id,
        "title": c.text(context.get("title"), 512),
        "label": c.text(context.get("label"), 255),
        "memberships_url": memberships_url,
    }

    def update(ex: Any) -> dict[str, Any]:
        return {
            "deployment_id": ex.deployment_id,
            "title": func.coalesce(ex.title, Context.title),
            "label": func.coalesce(ex.label, Context.label),
            "memberships_url": func.coalesce(ex.memberships_url, Context.memberships_url),
        }

    return _upsert(session, Context, values, ["platform_id", "context_id"], update)


def upsert_resource_link(session: Session, context_id: int, claims: Mapping[str, Any]) -> int:
    link = c.obj(claims, c.RESOURCE_LINK)
    ags = claims.get(c.AGS_ENDPOINT)
    values: dict[str, Any] = {
        "context_id": context_id,
        "resource_link_id": c.text(link.get("id"), 255),
        "title": c.text(link.get("title"), 512),
    }
    has_ags = isinstance(ags, Mapping)
    if has_ags:
        values |= {
            "lineitem_url": c.url(ags.get("lineitem")),
            "lineitems_url": c.url(ags.get("lineitems")),
            "ags_scopes": c.strings(ags.get("scope")),
        }

    def update(ex: Any) -> dict[str, Any]:
        changes: dict[str, Any] = {"title": func.coalesce(ex.title, ResourceLink.title)}
        if has_ags:  # the AGS claim describes the link as it is now: take it whole
            changes |= {
                "lineitem_url": ex.lineitem_url,
                "lineitems_url": ex.lineitems_url,
                "ags_scopes": ex.ags_scopes,
            }
        return changes

    return _upsert(
        session,
        ResourceLink,
        values,
        ["context_id", "resource_link_id"],
        update,
        variant=":ags" if has_ags else "",
    )


def upsert_membership(session: Session, context_id: int, user_id: int, roles: Roles) -> int:
    now = utcnow()
    values = {
        "context_id": context_id,
        "user_id": user_id,
        "roles": list(roles.membership),
        "is_instructor": roles.is_instructor,
        "is_learner": roles.is_learner,
        "active": True,
        "source": "launch",
        "launched": True,
        "updated_at": now,
    }

    def update(ex: Any) -> dict[str, Any]:
        return {
            k: getattr(ex, k)
            for k in ("roles", "is_instructor", "is_learner", "active", "launched", "updated_at")
        } | {"source": ex.source}

    return _upsert(session, Membership, values, ["context_id", "user_id"], update)


def is_tool_admin(session: Session, issuer: str, sub: str, email: str | None) -> bool:
    """Listed in ``admins``: by issuer + sub, or by email (optionally limited to one issuer).

    An email-only entry trusts the email claim of the platforms it applies to:
    give it an issuer unless every approved platform vouches for its emails.
    """
    conditions = [(Admin.issuer == issuer) & (Admin.sub == sub)]
    if email:
        conditions.append(
            Admin.sub.is_(None)
            & (func.lower(Admin.email) == email.lower())
            & (Admin.issuer.is_(None) | (Admin.issuer == issuer))
        )
    return session.scalar(select(Admin.id).where(or_(*conditions)).limit(1)) is not None


# -- link configuration -----------------------------------------------------------
@dataclass(frozen=True)
class LinkChoice:
    """A framework version and the level keys a link covers ([] = the whole framework)."""

    version: FrameworkVersion
    level_keys: list[str]

    @property
    def statement_count(self) -> int:
        levels = [
            lv for lv in self.version.levels if not self.level_keys or lv.key in self.level_keys
        ]
        return sum(len(lv.statements) for lv in levels)


class LinkChoiceError(ValueError):
    pass


def resolve_choice(
    session: Session,
    platform_id: int,
    framework: str,
    version: str | None,
    levels: str | list[str] | None,
) -> LinkChoice:
    """Check a framework reference and level keys; raise LinkChoiceError saying what is wrong.

    Only versions ``platform_id`` may use are found: another platform's framework gets the
    same answer as one that does not exist.
    """
    framework = (framework or "").strip()
    if not framework:
        raise LinkChoiceError("no framework was named")
    ref = f"{framework}@{version.strip()}" if version and version.strip() else framework
    row = framework_service.find_version(session, ref, scope=platform_id)
    if row is None:
        raise LinkChoiceError(f"framework {ref!r} is not loaded in skillsign")
    if isinstance(levels, str):
        keys = [k.strip() for k in levels.split(",") if k.strip()]
    else:
        keys = [k.strip() for k in (levels or []) if k and k.strip()]
    known = [lv.key for lv in row.levels]
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise LinkChoiceError(
            f"{row.title} {row.version} has no level {', '.join(map(repr, unknown))} "
            f"(levels: {', '.join(known)})"
        )
    ordered = [k for k in known if k in keys]  # framework order, no duplicates
    return LinkChoice(row, [] if len(ordered) == len(known) else ordered)


def pin_link(session: Session, link: ResourceLink, choice: LinkChoice) -> None:
    """Pin a link to a framework version and levels. A pinned link never changes."""
    if link.framework_version_id is not None:
        raise LinkChoiceError("this link is already set up")
    # Checked here as well as in resolve_choice: a choice must not cross to another platform.
    if not framework_service.may_use(choice.version, link.context.platform_id):
        raise LinkChoiceError("the chosen framework version does not exist")
    link.framework_version_id = choice.version.id
    link.level_keys = list(choice.level_keys)
    session.flush()


def configure_from_custom(
    session: Session, resource_link_id: int, custom: Mapping[str, Any]
) -> str | None:
    """Pin a new link from the skillsign_* custom parameters (Deep Linking or by hand)."""
    framework = custom.get(CUSTOM_FRAMEWORK)
    if not isinstance(framework, str) or not framework.strip():
        return None
    link = session.get(ResourceLink, resource_link_id)
    assert link is not None
    if link.framework_version_id is not None:
        return None  # pinned on an earlier launch: later parameters never move it
    version = custom.get(CUSTOM_VERSION)
    levels = custom.get(CUSTOM_LEVEL)
    try:
        choice = resolve_choice(
            session,
            link.context.platform_id,
            framework,
            version if isinstance(version, str) else None,
            levels if isinstance(levels, str) else None,
        )
        pin_link(session, link, choice)
    except LinkChoiceError as exc:
        log.warning(
            "link custom parameters not used",
            extra={"resource_link": resource_link_id, "reason": str(exc)},
        )
        return f"The link's custom parameters were not used: {exc}."
    return "pinned"


def record_launch(
    session: Session, claims: Mapping[str, Any], platform: Platform, deployment: Deployment
) -> LaunchRecord:
    """Upsert everything a launch tells us; the caller owns the transaction."""
    roles = classify(claims.get(c.ROLES) if isinstance(claims.get(c.ROLES), list) else None)
    message_type = str(claims.get(c.MESSAGE_TYPE))
    user_id = upsert_user(session, platform.issuer, claims)
    context_id = upsert_context(session, platform, deployment, claims)
    upsert_membership(session, context_id, user_id, roles)
    resource_link_id = None
    link_setup = None
    if message_type == c.RESOURCE_LINK_REQUEST and c.text(
        c.obj(claims, c.RESOURCE_LINK).get("id"), 255
    ):
        resource_link_id = upsert_resource_link(session, context_id, claims)
        link_setup = configure_from_custom(session, resource_link_id, c.obj(claims, c.CUSTOM))
    # Return URLs are signed by the platform: their origin may frame us (Canvas schools).
    for return_url in (
        c.obj(claims, c.LAUNCH_PRESENTATION).get("return_url"),
        c.obj(claims, c.DL_SETTINGS).get("deep_link_return_url"),
    ):
        registry.remember_frame_origin(session, platform, c.url(return_url, 2048))
    return LaunchRecord(
        user_id=user_id,
        platform_id=platform.id,
        context_id=context_id,
        resource_link_id=resource_link_id,
        roles=roles,
        is_tool_admin=is_tool_admin(
            session, platform.issuer, claims["sub"], c.text(claims.get("email"), 512)
        ),
        locale=locale_of(claims),
        message_type=message_type,
        link_setup=link_setup,
    )


def framework_version(session: Session, version_id: uuid.UUID | None) -> FrameworkVersion | None:
    return None if version_id is None else session.get(FrameworkVersion, version_id)


@dataclass(frozen=True)
class LinkedLevel:
    key: str
    label: str
    statements: int


@dataclass(frozen=True)
class LinkSummary:
    """What a pinned link covers, for pages that only name it (two small queries)."""

    version_id: uuid.UUID
    identifier: str
    title: str
    version: str
    levels: list[LinkedLevel]
    whole: bool


def link_summary(session: Session, link: ResourceLink) -> LinkSummary | None:
    if link.framework_version_id is None:
        return None
    head = session.execute(
        select(FrameworkVersion.identifier, FrameworkVersion.title, FrameworkVersion.version).where(
            FrameworkVersion.id == link.framework_version_id
        )
    ).one()
    rows = session.execute(
        select(FrameworkLevel.key, FrameworkLevel.label, func.count(Statement.id))
        .outerjoin(Statement, Statement.level_id == FrameworkLevel.id)
        .where(FrameworkLevel.framework_version_id == link.framework_version_id)
        .group_by(
            FrameworkLevel.id, FrameworkLevel.key, FrameworkLevel.label, FrameworkLevel.position
        )
        .order_by(FrameworkLevel.position)
    ).all()
    wanted = set(link.level_keys or [])
    levels = [LinkedLevel(k, label, int(n)) for k, label, n in rows if not wanted or k in wanted]
    return LinkSummary(
        version_id=link.framework_version_id,
        identifier=head.identifier,
        title=head.title,
        version=head.version,
        levels=levels,
        whole=not wanted,
    )
