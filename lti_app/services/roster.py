"""The course roster from the platform (LTI NRPS 2.0), so instructors see every learner,
including those who never launched the tool.

Roles follow the launch rule (lti_app/lms/roles.py): only membership (course)
roles count, institution roles grant nothing. A member the roster no longer
lists, or lists as Inactive/Deleted, becomes inactive here; nothing is deleted,
because sign-offs and credentials point at the user.

The roster is cached on the context: it is fetched again only when older than
``max_age`` unless forced. Concurrent syncs of one course are safe: rows are
inserted with ON CONFLICT DO NOTHING and then read back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from keys import KeyStore
from lti_app.db import utcnow
from lti_app.db.models import Context, Membership, OutboxMessage, Platform, User
from lti_app.lms import (
    TIMEOUT,
    AccessTokenCache,
    PlatformCredentials,
    ServiceError,
    ServicesClient,
)
from lti_app.lms.roles import MEMBERSHIP, classify
from lti_app.outbound import Fetcher, Timeout
from lti_app.services import outbox
from lti_app.services.outbox import (
    Claimed,
    Delivered,
    DeliveryContext,
    PermanentFailure,
    RetryLater,
)

log = logging.getLogger("skillsign.roster")

DEFAULT_MAX_AGE = timedelta(minutes=15)
_CHUNK = 1000
# NRPS may use the short context role names of LTI 1.1 ("Learner", "Instructor").
_SHORT_ROLES = frozenset(
    {"Administrator", "ContentDeveloper", "Instructor", "Learner", "Mentor", "Manager", "Member"}
)


class RosterUnavailable(Exception):
    """The context has no roster service, or the platform did not answer usefully."""


@dataclass(frozen=True, slots=True)
class RosterMember:
    sub: str
    roles: tuple[str, ...]  # membership role URIs only
    is_instructor: bool
    is_learner: bool
    active: bool
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class SyncResult:
    fetched: bool  # False: the cached roster was fresh enough
    members: int = 0
    added: int = 0  # memberships created
    deactivated: int = 0  # memberships made inactive


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def _full_role(role: str) -> str:
    return f"{MEMBERSHIP}#{role}" if role in _SHORT_ROLES else role


def parse_member(raw: Mapping[str, Any]) -> RosterMember | None:
    """One NRPS member, or None when it has no usable ``user_id``."""
    sub = _text(raw.get("user_id"), 255)
    if sub is None:
        return None
    roles_claim = raw.get("roles") if isinstance(raw.get("roles"), list) else []
    assert isinstance(roles_claim, list)  # the line above makes it one
    roles = classify([_full_role(r) if isinstance(r, str) else r for r in roles_claim])
    status = raw.get("status", "Active")
    return RosterMember(
        sub=sub,
        roles=roles.membership,
        is_instructor=roles.is_instructor,
        is_learner=roles.is_learner,
        active=status == "Active",
        name=_text(raw.get("name"), 512),
        given_name=_text(raw.get("given_name"), 255),
        family_name=_text(raw.get("family_name"), 255),
        email=_text(raw.get("email"), 512),
    )


def fetch_roster(client: ServicesClient, memberships_url: str) -> list[RosterMember]:
    """Every member the platform lists (all pages); duplicates keep the last entry."""
    by_sub: dict[str, RosterMember] = {}
    skipped = 0
    for raw in client.memberships(memberships_url):
        member = parse_member(raw)
        if member is None:
            skipped += 1
            continue
        by_sub[member.sub] = member
    if skipped:
        log.warning("roster members without user_id skipped", extra={"count": skipped})
    return list(by_sub.values())


def is_fresh(context: Context, max_age: timedelta, now: datetime | None = None) -> bool:
    synced = context.roster_synced_at
    return synced is not None and (now or utcnow()) - synced < max_age


def _insert_ignoring_conflicts(
    session: Session, model: type, rows: Sequence[dict[str, Any]]
) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    for start in range(0, len(rows), _CHUNK):
        statement = module.insert(model).values(list(rows[start : start + _CHUNK]))
        session.execute(statement.on_conflict_do_nothing())


def _users_by_sub(session: Session, issuer: str, subs: Sequence[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for start in range(0, len(subs), _CHUNK):
        chunk = subs[start : start + _CHUNK]
        for user in session.scalars(select(User).where(User.issuer == issuer, User.sub.in_(chunk))):
            found[user.sub] = user
    return found


def apply_roster(
    session: Session,
    context: Context,
    members: Iterable[RosterMember],
    *,
    now: datetime | None = None,
) -> SyncResult:
    """Upsert users and memberships from a fetched roster; deactivate the missing."""
    moment = now or utcnow()
    roster = {m.sub: m for m in members}
    platform = session.get(Platform, context.platform_id)
    assert platform is not None  # a foreign key
    users = _upsert_users(session, platform.issuer, roster, moment)
    existing = {
        m.user_id: m
        for m in session.scalars(select(Membership).where(Membership.context_id == context.id))
    }
    added = _insert_memberships(
        session,
        context.id,
        {sub: member for sub, member in roster.items() if users[sub].id not in existing},
        users,
        moment,
    )
    deactivated = _update_memberships(existing, roster, users)
    context.roster_synced_at = moment
    session.flush()
    return SyncResult(fetched=True, members=len(roster), added=added, deactivated=deactivated)


def _upsert_users(
    session: Session, issuer: str, roster: Mapping[str, RosterMember], moment: datetime
) -> dict[str, User]:
    """The roster's users by sub, those not seen before added, names refreshed."""
    subs = sorted(roster)
    users = _users_by_sub(session, issuer, subs)
    _insert_ignoring_conflicts(
        session,
        User,
        [{"issuer": issuer, "sub": sub, "created_at": moment} for sub in subs if sub not in users],
    )
    users = _users_by_sub(session, issuer, subs)
    for sub, member in roster.items():
        user = users[sub]
        # The roster may omit names (privacy settings): never erase what a launch told us.
        for field in ("name", "given_name", "family_name", "email"):
            value = getattr(member, field)
            if value is not None and getattr(user, field) != value:
                setattr(user, field, value)
    return users


def _insert_memberships(
    session: Session,
    context_id: int,
    newcomers: Mapping[str, RosterMember],
    users: Mapping[str, User],
    moment: datetime,
) -> int:
    """Add the memberships of roster members the course has none for; returns how many."""
    new_rows = [
        {
            "context_id": context_id,
            "user_id": users[sub].id,
            "roles": list(member.roles),
            "is_instructor": member.is_instructor,
            "is_learner": member.is_learner,
            "active": member.active,
            "source": "nrps",
            "launched": False,
            "updated_at": moment,
        }
        for sub, member in newcomers.items()
    ]
    _insert_ignoring_conflicts(session, Membership, new_rows)
    return len(new_rows)


def _update_memberships(
    existing: Mapping[int, Membership],
    roster: Mapping[str, RosterMember],
    users: Mapping[str, User],
) -> int:
    """Bring the course's memberships in line with the roster; returns how many were
    deactivated."""
    sub_of = {user.id: sub for sub, user in users.items()}
    deactivated = 0
    for user_id, membership in existing.items():
        if user_id in sub_of:
            member = roster[sub_of[user_id]]
            membership.roles = list(member.roles)
            membership.is_instructor = member.is_instructor
            membership.is_learner = member.is_learner
            membership.active = member.active
            membership.source = "nrps"
        elif membership.active and roster:
            # An empty roster is a platform hiccup, not a course everyone left.
            membership.active = False
            deactivated += 1
    return deactivated


def sync_roster(
    session: Session,
    context: Context,
    keys: KeyStore,
    *,
    force: bool = False,
    max_age: timedelta = DEFAULT_MAX_AGE,
    http: Fetcher | None = None,
    tokens: AccessTokenCache | None = None,
    timeout: Timeout = TIMEOUT,
    now: datetime | None = None,
) -> SyncResult:
    """Fetch and store the roster unless the stored one is younger than ``max_age``.

    This calls the platform from inside the caller's transaction; a page that
    must not wait on the LMS queues ``enqueue_sync`` instead.
    """
    if not force and is_fresh(context, max_age, now):
        return SyncResult(fetched=False)
    if not context.memberships_url:
        raise RosterUnavailable(
            f"course {context.context_id!r} has no roster service (no NRPS claim in its launches)"
        )
    platform = session.get(Platform, context.platform_id)
    assert platform is not None
    client = ServicesClient(
        PlatformCredentials.from_platform(platform), keys, http=http, tokens=tokens, timeout=timeout
    )
    try:
        members = fetch_roster(client, context.memberships_url)
    except ServiceError as exc:
        raise RosterUnavailable(f"the platform's roster could not be read: {exc}") from exc
    result = apply_roster(session, context, members, now=now)
    log.info(
        "roster synced",
        extra={
            "context_id": context.id,
            "members": result.members,
            "added": result.added,
            "deactivated": result.deactivated,
        },
    )
    return result


# -- in the background, through the outbox ---------------------------------------------
KIND = "roster_sync"


def enqueue_sync(session: Session, context_id: int, *, force: bool = False) -> OutboxMessage:
    """Ask the worker to refresh a course roster (one pending request per course)."""
    return outbox.enqueue(
        session, KIND, {"context_id": context_id, "force": force}, dedupe_key=f"{KIND}:{context_id}"
    )


def deliver_sync(message: Claimed, ctx: DeliveryContext) -> Delivered:
    """The worker's handler for ``roster_sync`` rows."""
    with ctx.db.transaction() as session:
        context = session.get(Context, message.payload.get("context_id"))
        if context is None:
            return Delivered(note="not synced: the course no longer exists")
        try:
            sync_roster(
                session,
                context,
                ctx.keys,
                force=bool(message.payload.get("force")),
                http=ctx.http,
                tokens=ctx.tokens,
                timeout=ctx.timeout,
            )
        except RosterUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, ServiceError) and cause.transient:
                raise RetryLater(str(exc), cause.retry_after) from exc
            raise PermanentFailure(str(exc)) from exc
    return Delivered()
