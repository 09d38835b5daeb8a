"""Platforms and deployments cached per process, checked against the registry's stamp.

Every login and launch read the platform (by issuer and client_id) and its deployment: two to
four queries per launch for rows that change a few times a year. Here they are read once per
issuer and kept with the ``registry_version`` stamp read before them (triggers give the stamp
a new value on any change to ``platforms`` or ``deployments``: migration 0007). The login's
state write and the launch's nonce statement bring the current stamp back with their own
answer (lti/storage.py); when it differs from the cached one the cache is dropped and the step
runs again on fresh rows (lti/login.py, views/lti.py). So a removed deployment, a refused
platform or a new key set URL is seen by the next login or launch in every process, and the
check costs no round trip of its own.

Cached rows are detached ORM objects that are never changed; each request gets its own copy
with ``Session.merge(load=False)`` (no SQL), so code downstream, which may change a platform
(frame origins), works on an ordinary object of its own session.

PostgreSQL only: SQLite (one host, development) reads the rows on every launch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from lti_app.db.models import Deployment, Platform, RegistryVersion

# The stamp as a scalar subquery, for statements that bring it back with their own answer.
STAMP = select(RegistryVersion.stamp).where(RegistryVersion.id == 1).scalar_subquery()


@dataclass
class _Issuer:
    stamp: int | None
    platforms: list[Platform]
    deployments: dict[tuple[int, str], Deployment] = field(default_factory=dict)


MAX_ISSUERS = 1000  # per process; more registered issuers than this are read again, not lost
_lock = threading.Lock()
_cache: dict[tuple[str, str], _Issuer] = {}  # (database URL, issuer) -> rows
_stamps: dict[str, int | None] = {}  # database URL -> the stamp the cache was read at


def enabled(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _db_key(session: Session) -> str:
    return str(session.get_bind().engine.url)


def clear() -> None:
    """Drop every cached row (also for tests that change the registry behind our back)."""
    with _lock:
        _cache.clear()
        _stamps.clear()


# Refusals a stale cache could cause: a platform, client_id or deployment added or approved
# since the cache was read. The step runs once more on fresh rows of that issuer before the
# refusal stands (a refusal is rare; a stale refusal would stand until the next change).
REGISTRY_REFUSALS = frozenset(
    {
        "lti.unknown_platform",
        "lti.pending_deployment",
        "lti.wrong_audience",
        "lti.wrong_azp",
        "lti.login_invalid",
    }
)


def forget(session: Session, issuer: str | None) -> bool:
    """Drop one issuer's rows; True when there were any (a retry can then see fresh ones)."""
    if not issuer or not enabled(session):
        return False
    with _lock:
        return _cache.pop((_db_key(session), issuer), None) is not None


def is_current(session: Session, stamp: int | None) -> bool:
    """True when ``stamp`` (read just now by a launch-path statement) is the cache's.

    False drops this database's cache: the caller reruns its step on fresh rows."""
    key = _db_key(session)
    with _lock:
        if key not in _stamps or _stamps[key] == stamp:
            return True
        for cached in [k for k in _cache if k[0] == key]:
            del _cache[cached]
        del _stamps[key]
        return False


def _load(session: Session, issuer: str) -> _Issuer:
    key = (_db_key(session), issuer)
    with _lock:
        found = _cache.get(key)
    if found is not None:
        return found
    # The stamp first: rows read after it are at least as new as it says.
    stamp = session.scalar(select(RegistryVersion.stamp).where(RegistryVersion.id == 1))
    platforms = list(
        session.scalars(
            select(Platform)
            .options(lazyload(Platform.deployments))
            .where(Platform.issuer == issuer)
            .order_by(Platform.id)
        )
    )
    deployments = (
        list(
            session.scalars(
                select(Deployment).where(Deployment.platform_id.in_([p.id for p in platforms]))
            )
        )
        if platforms
        else []
    )
    entry = _Issuer(stamp, platforms, {(d.platform_id, d.deployment_id): d for d in deployments})
    for row in (*platforms, *deployments):
        session.expunge(row)  # the cache's own copies, never changed
    if not platforms:
        # An unknown issuer is not kept: anyone can send logins naming random issuers, and
        # each would stay in memory. Its refusal costs the two queries every time.
        return entry
    with _lock:
        if len(_cache) >= MAX_ISSUERS:
            _cache.clear()  # registered issuers only; a crowd of them is read again, not lost
        if _stamps.setdefault(key[0], stamp) == stamp:
            _cache[key] = entry
    return entry


def _mine(session: Session, row: Platform) -> Platform:
    return session.merge(row, load=False)


def platforms_for_issuer(session: Session, issuer: str) -> list[Platform]:
    return [_mine(session, p) for p in _load(session, issuer).platforms]


def find_platform(session: Session, issuer: str, client_id: str) -> Platform | None:
    for platform in _load(session, issuer).platforms:
        if platform.client_id == client_id:
            return _mine(session, platform)
    return None


def find_deployment(session: Session, platform: Platform, deployment_id: str) -> Deployment | None:
    found = _load(session, platform.issuer).deployments.get((platform.id, deployment_id))
    return None if found is None else session.merge(found, load=False)


def has_deployment(session: Session, platform: Platform, status: str) -> bool:
    return any(
        d.status == status and pid == platform.id
        for (pid, _), d in _load(session, platform.issuer).deployments.items()
    )


def approved_by_deployment(
    session: Session, issuer: str, deployment_id: str, status: str
) -> list[Platform]:
    entry = _load(session, issuer)
    return [
        _mine(session, p)
        for p in entry.platforms
        if (d := entry.deployments.get((p.id, deployment_id))) is not None and d.status == status
    ]
