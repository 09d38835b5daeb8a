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

from sqlalchemy import bindparam, func, or_, select, text
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
from lti_app.lms import claims as c
from lti_app.lms.roles import Roles, classify
from lti_app.services import frameworks as framework_service
from lti_app.services import registry
from lti_app.services.messages import N_, UserError

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
    # "pinned", or a sentence saying why the parameters were not used ...
    link_setup: str | None = None
    # ... and that reason marked for translation: {"msgid": ..., "params": {...}}.
    link_problem: dict[str, Any] | None = None
    # The link is pinned to a framework version (now or earlier): the launch may send each
    # role straight to its page instead of through the landing page.
    link_pinned: bool = False


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
    return int(_upsert_row(session, model, values, keys, update, variant, (model.id,))[0])


def _upsert_row(
    session: Session,
    model: Any,
    values: dict[str, Any],
    keys: list[str],
    update: Callable[[Any], dict[str, Any]],
    variant: str,
    returning: tuple[Any, ...],
) -> Any:
    dialect = session.get_bind().dialect.name
    cache_key = (dialect, model.__tablename__ + variant)
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        base = insert(model)
        stmt = base.on_conflict_do_update(
            index_elements=keys, set_=update(base.excluded)
        ).returning(*returning)
        _UPSERTS[cache_key] = stmt
    # Core fills in the Python-side column defaults (created_at, ...) for missing columns.
    return session.connection().execute(stmt, values).one()


def _user_values(issuer: str, claims: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "sub": claims["sub"],
        "name": c.text(claims.get("name"), 512),
        "given_name": c.text(claims.get("given_name"), 255),
        "family_name": c.text(claims.get("family_name"), 255),
        "email": c.text(claims.get("email"), 512),
        "locale": locale_of(claims),
        "last_seen_at": utcnow(),
    }


def upsert_user(session: Session, issuer: str, claims: Mapping[str, Any]) -> int:
    values = _user_values(issuer, claims)

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


def _context_values(
    platform: Platform, deployment: Deployment, claims: Mapping[str, Any]
) -> dict[str, Any]:
    context = c.obj(claims, c.CONTEXT)
    # The context claim is optional in LTI; without one the deployment stands for the course.
    context_id = c.text(context.get("id"), 255) or f"deployment:{deployment.deployment_id}"[:255]
    return {
        "platform_id": platform.id,
        "deployment_id": deployment.id,
        "context_id": context_id,
        "title": c.text(context.get("title"), 512),
        "label": c.text(context.get("label"), 255),
        "memberships_url": c.url(c.obj(claims, c.NRPS).get("context_memberships_url")),
    }


def upsert_context(
    session: Session, platform: Platform, deployment: Deployment, claims: Mapping[str, Any]
) -> int:
    values = _context_values(platform, deployment, claims)

    def update(ex: Any) -> dict[str, Any]:
        return {
            "deployment_id": ex.deployment_id,
            "title": func.coalesce(ex.title, Context.title),
            "label": func.coalesce(ex.label, Context.label),
            "memberships_url": func.coalesce(ex.memberships_url, Context.memberships_url),
        }

    return _upsert(session, Context, values, ["platform_id", "context_id"], update)


def _link_values(context_id: int | None, claims: Mapping[str, Any]) -> dict[str, Any]:
    """The link's columns; the AGS ones only when the launch has the AGS claim."""
    link = c.obj(claims, c.RESOURCE_LINK)
    ags = claims.get(c.AGS_ENDPOINT)
    values: dict[str, Any] = {
        "context_id": context_id,
        "resource_link_id": c.text(link.get("id"), 255),
        "title": c.text(link.get("title"), 512),
    }
    if isinstance(ags, Mapping):
        values |= {
            "lineitem_url": c.url(ags.get("lineitem")),
            "lineitems_url": c.url(ags.get("lineitems")),
            "ags_scopes": c.strings(ags.get("scope")),
        }
    return values


def upsert_resource_link(
    session: Session, context_id: int, claims: Mapping[str, Any]
) -> tuple[int, uuid.UUID | None]:
    """The link's id and the framework version it is pinned to (None: not set up)."""
    values = _link_values(context_id, claims)
    has_ags = "ags_scopes" in values

    def update(ex: Any) -> dict[str, Any]:
        changes: dict[str, Any] = {"title": func.coalesce(ex.title, ResourceLink.title)}
        if has_ags:  # the AGS claim describes the link as it is now: take it whole
            changes |= {
                "lineitem_url": ex.lineitem_url,
                "lineitems_url": ex.lineitems_url,
                "ags_scopes": ex.ags_scopes,
            }
        return changes

    # The pinned version comes back with the id: a pinned link (every launch but the
    # first) needs no second read to be configured or to pick the first page.
    row = _upsert_row(
        session,
        ResourceLink,
        values,
        ["context_id", "resource_link_id"],
        update,
        ":ags" if has_ags else "",
        (ResourceLink.id, ResourceLink.framework_version_id),
    )
    return int(row[0]), row[1]


def _membership_values(context_id: int | None, user_id: int | None, roles: Roles) -> dict[str, Any]:
    return {
        "context_id": context_id,
        "user_id": user_id,
        "roles": list(roles.membership),
        "is_instructor": roles.is_instructor,
        "is_learner": roles.is_learner,
        "active": True,
        "source": "launch",
        "launched": True,
        "updated_at": utcnow(),
    }


def upsert_membership(session: Session, context_id: int, user_id: int, roles: Roles) -> int:
    values = _membership_values(context_id, user_id, roles)

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


class LinkChoiceError(UserError):
    """Why a link cannot be set up as asked: English in ``str()`` (logs), marked for
    translation (``msgid``, ``params``) where a page shows it."""

    code = "link.choice"


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
        raise LinkChoiceError(N_("no framework was named"))
    row, problem = framework_service.find_reference(session, framework, version, scope=platform_id)
    if row is None:
        assert problem is not None
        raise LinkChoiceError(problem[0], **problem[1])  # type: ignore[arg-type]  # no status key
    if isinstance(levels, str):
        keys = [k.strip() for k in levels.split(",") if k.strip()]
    else:
        keys = [k.strip() for k in (levels or []) if k and k.strip()]
    known = [lv.key for lv in row.levels]
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise LinkChoiceError(
            N_("%(title)s %(version)s has no level %(unknown)s (levels: %(known)s)"),
            title=row.title,
            version=row.version,
            unknown=", ".join(map(repr, unknown)),
            known=", ".join(known),
        )
    ordered = [k for k in known if k in keys]  # framework order, no duplicates
    return LinkChoice(row, [] if len(ordered) == len(known) else ordered)


def pin_link(session: Session, link: ResourceLink, choice: LinkChoice) -> None:
    """Pin a link to a framework version and levels. A pinned link never changes."""
    if link.framework_version_id is not None:
        raise LinkChoiceError(N_("this link is already set up"))
    # Checked here as well as in resolve_choice: a choice must not cross to another platform.
    if not framework_service.may_use(choice.version, link.context.platform_id):
        raise LinkChoiceError(N_("the chosen framework version does not exist"))
    link.framework_version_id = choice.version.id
    link.level_keys = list(choice.level_keys)
    session.flush()


def configure_from_custom(
    session: Session, resource_link_id: int, custom: Mapping[str, Any], *, pinned: bool = False
) -> str | LinkChoiceError | None:
    """Pin a new link from the skillsign_* custom parameters (Deep Linking or by hand):
    "pinned", why the parameters were not used, or None (nothing to do).

    ``pinned``: the caller knows the link is pinned already (nothing to read or do)."""
    framework = custom.get(CUSTOM_FRAMEWORK)
    if pinned or not isinstance(framework, str) or not framework.strip():
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
        return exc
    return "pinned"


# PostgreSQL: the user, context, membership and resource link upserts and the admin check in
# one statement (data-modifying CTEs, each upsert returning its row's id to the next), built
# once per variant: 5 round trips become 1. The ON CONFLICT clauses are those of the
# upsert_* functions above, which SQLite runs one by one.
_AT_ONCE: dict[str, Any] = {}
_AT_ONCE_SQL = """
WITH u AS (
    INSERT INTO users (issuer, sub, name, given_name, family_name, email, locale,
                       show_name_on_credentials, created_at, last_seen_at)
    VALUES (:u_issuer, :u_sub, :u_name, :u_given_name, :u_family_name, :u_email, :u_locale,
            false, :now, :u_last_seen_at)
    ON CONFLICT (issuer, sub) DO UPDATE SET
        name = coalesce(excluded.name, users.name),
        given_name = coalesce(excluded.given_name, users.given_name),
        family_name = coalesce(excluded.family_name, users.family_name),
        email = coalesce(excluded.email, users.email),
        locale = coalesce(excluded.locale, users.locale),
        last_seen_at = excluded.last_seen_at
    RETURNING id
), ctx AS (
    INSERT INTO contexts (platform_id, deployment_id, context_id, title, label,
                          memberships_url, created_at)
    VALUES (:c_platform_id, :c_deployment_id, :c_context_id, :c_title, :c_label,
            :c_memberships_url, :now)
    ON CONFLICT (platform_id, context_id) DO UPDATE SET
        deployment_id = excluded.deployment_id,
        title = coalesce(excluded.title, contexts.title),
        label = coalesce(excluded.label, contexts.label),
        memberships_url = coalesce(excluded.memberships_url, contexts.memberships_url)
    RETURNING id
), m AS (
    INSERT INTO memberships (context_id, user_id, roles, is_instructor, is_learner, active,
                             source, launched, updated_at)
    SELECT ctx.id, u.id, :m_roles, :m_is_instructor, :m_is_learner, :m_active, :m_source,
           :m_launched, :m_updated_at
    FROM ctx, u
    ON CONFLICT (context_id, user_id) DO UPDATE SET
        roles = excluded.roles, is_instructor = excluded.is_instructor,
        is_learner = excluded.is_learner, active = excluded.active,
        launched = excluded.launched, updated_at = excluded.updated_at, source = excluded.source
    RETURNING id
){link_cte}
SELECT u.id AS user_id, ctx.id AS context_id, {link_columns},
       EXISTS (
           SELECT 1 FROM admins
           WHERE (admins.issuer = :u_issuer AND admins.sub = :u_sub)
              OR (CAST(:u_email AS VARCHAR) IS NOT NULL AND admins.sub IS NULL
                  AND lower(admins.email) = lower(CAST(:u_email AS VARCHAR))
                  AND (admins.issuer IS NULL OR admins.issuer = :u_issuer))
       ) AS tool_admin,
       (SELECT count(*) FROM m) AS memberships
FROM u, ctx{link_join}
"""
_LINK_CTE = """, rl AS (
    INSERT INTO resource_links (context_id, resource_link_id, title, level_keys,
                                lineitem_url, lineitems_url, ags_scopes, created_at)
    SELECT ctx.id, :l_resource_link_id, :l_title, :l_level_keys, {ags_values}, :now
    FROM ctx
    ON CONFLICT (context_id, resource_link_id) DO UPDATE SET
        title = coalesce(excluded.title, resource_links.title){ags_update}
    RETURNING id, framework_version_id
)"""


def _at_once_statement(variant: str) -> Any:
    stmt = _AT_ONCE.get(variant)
    if stmt is not None:
        return stmt
    with_link, with_ags = variant in ("link", "link:ags"), variant == "link:ags"
    link_cte = ""
    if with_link:
        link_cte = _LINK_CTE.format(
            ags_values=":l_lineitem_url, :l_lineitems_url, :l_ags_scopes"
            if with_ags
            else "NULL, NULL, :l_ags_scopes",
            ags_update=(
                ", lineitem_url = excluded.lineitem_url, lineitems_url = excluded.lineitems_url,"
                " ags_scopes = excluded.ags_scopes"
            )
            if with_ags
            else "",
        )
    sql = _AT_ONCE_SQL.format(
        link_cte=link_cte,
        link_columns="rl.id AS link_id, rl.framework_version_id AS version_id"
        if with_link
        else "NULL AS link_id, NULL AS version_id",
        link_join=", rl" if with_link else "",
    )
    json_list = Membership.__table__.c.roles.type
    binds = [
        bindparam("now", type_=User.__table__.c.created_at.type),
        bindparam("u_last_seen_at", type_=User.__table__.c.last_seen_at.type),
        bindparam("m_updated_at", type_=Membership.__table__.c.updated_at.type),
        bindparam("m_roles", type_=json_list),
    ]
    if with_link:
        binds += [
            bindparam("l_level_keys", type_=json_list),
            bindparam("l_ags_scopes", type_=json_list),
        ]
    stmt = _AT_ONCE[variant] = text(sql).bindparams(*binds)
    return stmt


def _record_rows_at_once(
    session: Session,
    claims: Mapping[str, Any],
    platform: Platform,
    deployment: Deployment,
    roles: Roles,
    with_link: bool,
) -> tuple[int, int, int | None, uuid.UUID | None, bool]:
    """(user id, context id, link id, the link's pinned version, tool admin) in one round
    trip (PostgreSQL)."""
    params: dict[str, Any] = {"now": utcnow()}
    params |= {f"u_{k}": v for k, v in _user_values(platform.issuer, claims).items()}
    params |= {f"c_{k}": v for k, v in _context_values(platform, deployment, claims).items()}
    membership = _membership_values(None, None, roles)
    params |= {f"m_{k}": v for k, v in membership.items() if k not in ("context_id", "user_id")}
    variant = "none"
    if with_link:
        link = _link_values(None, claims)
        variant = "link:ags" if "ags_scopes" in link else "link"
        link.setdefault("ags_scopes", [])
        link["level_keys"] = []
        params |= {f"l_{k}": v for k, v in link.items() if k != "context_id"}
    row = session.execute(_at_once_statement(variant), params).one()
    version = row.version_id
    if version is not None and not isinstance(version, uuid.UUID):
        version = uuid.UUID(str(version))
    link_id = None if row.link_id is None else int(row.link_id)
    return int(row.user_id), int(row.context_id), link_id, version, bool(row.tool_admin)


def record_launch(
    session: Session, claims: Mapping[str, Any], platform: Platform, deployment: Deployment
) -> LaunchRecord:
    """Upsert everything a launch tells us; the caller owns the transaction."""
    roles = classify(claims.get(c.ROLES) if isinstance(claims.get(c.ROLES), list) else None)
    message_type = str(claims.get(c.MESSAGE_TYPE))
    with_link = message_type == c.RESOURCE_LINK_REQUEST and bool(
        c.text(c.obj(claims, c.RESOURCE_LINK).get("id"), 255)
    )
    email = c.text(claims.get("email"), 512)
    resource_link_id = None
    link_setup = None
    link_problem = None
    pinned = False
    if session.get_bind().dialect.name == "postgresql":
        rows = _record_rows_at_once(session, claims, platform, deployment, roles, with_link)
        user_id, context_id, resource_link_id, version_id, tool_admin = rows
    else:
        user_id = upsert_user(session, platform.issuer, claims)
        context_id = upsert_context(session, platform, deployment, claims)
        upsert_membership(session, context_id, user_id, roles)
        tool_admin = is_tool_admin(session, platform.issuer, claims["sub"], email)
        if with_link:
            resource_link_id, version_id = upsert_resource_link(session, context_id, claims)
    if resource_link_id is not None:
        pinned = version_id is not None
        outcome = configure_from_custom(
            session, resource_link_id, c.obj(claims, c.CUSTOM), pinned=pinned
        )
        if isinstance(outcome, LinkChoiceError):
            link_setup = f"The link's custom parameters were not used: {outcome}."
            link_problem = {"msgid": outcome.msgid, "params": outcome.params}
        else:
            link_setup = outcome
        pinned = pinned or link_setup == "pinned"
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
        is_tool_admin=tool_admin,
        locale=locale_of(claims),
        message_type=message_type,
        link_setup=link_setup,
        link_problem=link_problem,
        link_pinned=pinned,
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
