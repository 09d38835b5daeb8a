"""The platform registry: registered LMSs (issuer + client_id) and their deployments.

It replaces pylti1p3's JSON configuration files. ``lti_app.lti.tool_conf``
reads it for pylti1p3; the CLI, dynamic registration and launches write it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, lazyload

from lti_app.db import utcnow
from lti_app.db.models import Context, Deployment, Platform

APPROVED = "approved"
PENDING = "pending"
PRODUCTS = ("canvas", "moodle", "generic")
# Canvas cloud: one issuer for every school; the browser-facing endpoints live on sso.canvaslms.com.
CANVAS_CLOUD = {
    "issuer": "https://canvas.instructure.com",
    "auth_login_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "auth_token_url": "https://sso.canvaslms.com/login/oauth2/token",
    "jwks_url": "https://sso.canvaslms.com/api/lti/security/jwks",
}
# Frame origins remembered per platform (Canvas schools frame the tool from their own domain).
MAX_FRAME_ORIGINS = 50


class RegistryError(ValueError):
    """A registry change was refused; the message says which value and why."""


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    product: str = "generic"


def check_url(value: str, field: str, limit: int = 1024) -> str:
    """An absolute http(s) URL with a host that fits its column, or a RegistryError naming
    the field (values may come from a platform's document during dynamic registration)."""
    value = (value or "").strip()
    if len(value) > limit:
        raise RegistryError(f"{field}: a URL of at most {limit} characters is expected")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise RegistryError(f"{field}: not a URL ({exc}): {value!r}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RegistryError(f"{field}: expected an absolute http(s) URL, got {value!r}")
    if parts.fragment:
        raise RegistryError(f"{field}: a URL with a #fragment is not allowed ({value!r})")
    return value


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased; "" for a string urlsplit refuses."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def preset_endpoints(preset: str, site_url: str | None = None) -> Endpoints:
    """Known endpoints of Canvas cloud and of a Moodle site."""
    if preset == "canvas":
        if site_url and not urlsplit(site_url).hostname:
            raise RegistryError(f"--site-url: expected a URL, got {site_url!r}")
        host = (urlsplit(site_url).hostname or "") if site_url else ""
        if site_url and not (host.endswith(".instructure.com") or host.endswith(".canvaslms.com")):
            # Self-hosted Canvas: issuer and endpoints are on the site itself.
            site = check_url(site_url, "--site-url").rstrip("/")
            return Endpoints(
                issuer=site,
                auth_login_url=f"{site}/api/lti/authorize_redirect",
                auth_token_url=f"{site}/login/oauth2/token",
                jwks_url=f"{site}/api/lti/security/jwks",
                product="canvas",
            )
        return Endpoints(**CANVAS_CLOUD, product="canvas")
    if preset == "moodle":
        if not site_url:
            raise RegistryError("--preset moodle needs --site-url (the Moodle site's wwwroot)")
        site = check_url(site_url, "--site-url").rstrip("/")
        return Endpoints(
            issuer=site,
            auth_login_url=f"{site}/mod/lti/auth.php",
            auth_token_url=f"{site}/mod/lti/token.php",
            jwks_url=f"{site}/mod/lti/certs.php",
            product="moodle",
        )
    raise RegistryError(f"unknown preset {preset!r}; expected canvas or moodle")


# -- platforms -----------------------------------------------------------------
# Launch-path lookups need no deployments; loading them (the relationship's default
# "selectin") would cost a query per launch.
_NO_DEPLOYMENTS = lazyload(Platform.deployments)


def find_platform(session: Session, issuer: str, client_id: str) -> Platform | None:
    return session.scalars(
        select(Platform)
        .options(_NO_DEPLOYMENTS)
        .where(Platform.issuer == issuer, Platform.client_id == client_id)
    ).first()


def platforms_for_issuer(session: Session, issuer: str) -> list[Platform]:
    return list(
        session.scalars(
            select(Platform)
            .options(_NO_DEPLOYMENTS)
            .where(Platform.issuer == issuer)
            .order_by(Platform.id)
        )
    )


def list_platforms(session: Session) -> list[Platform]:
    return list(session.scalars(select(Platform).order_by(Platform.id)))


def get_platform(session: Session, ref: str) -> Platform | None:
    """By numeric id, or by ``issuer`` when that issuer has exactly one client."""
    if ref.isdigit():
        return session.get(Platform, int(ref))
    candidates = platforms_for_issuer(session, ref)
    return candidates[0] if len(candidates) == 1 else None


def add_platform(
    session: Session,
    *,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    jwks_url: str,
    name: str = "",
    product: str = "generic",
    auth_audience: str | None = None,
    deployment_ids: Iterable[str] = (),
    details: dict[str, Any] | None = None,
    update: bool = False,
) -> Platform:
    """Register a platform; ``update=True`` changes an existing (issuer, client_id) instead."""
    # The issuer is compared byte for byte with the id_token's iss: never normalised.
    issuer = check_url(issuer, "issuer", limit=512)
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > 255:
        raise RegistryError("client_id: expected 1 to 255 characters")
    if auth_audience and len(auth_audience) > 1024:
        raise RegistryError("auth_audience: expected at most 1024 characters")
    if product not in PRODUCTS:
        raise RegistryError(f"product: expected one of {', '.join(PRODUCTS)}, got {product!r}")
    values = {
        "auth_login_url": check_url(auth_login_url, "auth_login_url"),
        "auth_token_url": check_url(auth_token_url, "auth_token_url"),
        "jwks_url": check_url(jwks_url, "jwks_url"),
        "auth_audience": auth_audience or None,
        "product": product,
    }
    platform = find_platform(session, issuer, client_id)
    if platform is not None and not update:
        raise RegistryError(
            f"a platform with issuer {issuer} and client_id {client_id} is already registered "
            f"(id {platform.id})"
        )
    if platform is None:
        platform = Platform(
            issuer=issuer,
            client_id=client_id,
            name=(name or issuer)[:255],
            details=details or {},
            **values,
        )
        session.add(platform)
    else:
        for key, value in values.items():
            setattr(platform, key, value)
        if name:
            platform.name = name[:255]
        if details:
            platform.details = {**(platform.details or {}), **details}
    session.flush()
    for deployment_id in deployment_ids:
        record_deployment(session, platform, deployment_id, approved=True)
    return platform


# What an administrator may change on a registered platform (dynamic registration never may).
UPDATABLE = ("name", "auth_login_url", "auth_token_url", "jwks_url", "auth_audience")


def update_platform(
    session: Session, platform: Platform, changes: dict[str, str | None]
) -> dict[str, dict[str, str | None]]:
    """Change an existing platform's URLs or name (an admin action; the caller audits it).

    ``changes`` maps fields of ``UPDATABLE`` to new values (``auth_audience`` "" clears it).
    Every value is checked before any is set; returns ``{field: {"old", "new"}}`` for the
    fields whose value really changed.
    """
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise RegistryError(f"cannot change {', '.join(unknown)}")
    checked: dict[str, str | None] = {}
    for field, value in changes.items():
        if field == "name":
            name = (value or "").strip()
            if not name or len(name) > 255:
                raise RegistryError("name: expected 1 to 255 characters")
            checked[field] = name
        elif field == "auth_audience":
            audience = (value or "").strip()
            if len(audience) > 1024:
                raise RegistryError("auth_audience: expected at most 1024 characters")
            checked[field] = audience or None
        else:
            checked[field] = check_url(value or "", field)
    changed: dict[str, dict[str, str | None]] = {}
    for field, value in checked.items():
        old = getattr(platform, field)
        if old != value:
            changed[field] = {"old": old, "new": value}
            setattr(platform, field, value)
    session.flush()
    return changed


def remove_platform(session: Session, platform: Platform, *, force: bool = False) -> int:
    """Delete a platform; refuse while it has courses unless ``force``. Returns the course count."""
    courses = session.scalar(
        select(func.count()).select_from(Context).where(Context.platform_id == platform.id)
    )
    if courses and not force:
        raise RegistryError(
            f"platform {platform.id} ({platform.issuer}) has {courses} course(s) with launch "
            "data; pass --force to delete them with the platform"
        )
    session.delete(platform)
    session.flush()
    return int(courses or 0)


# -- deployments ---------------------------------------------------------------
def find_deployment(session: Session, platform_id: int, deployment_id: str) -> Deployment | None:
    return session.scalars(
        select(Deployment).where(
            Deployment.platform_id == platform_id, Deployment.deployment_id == deployment_id
        )
    ).first()


def record_deployment(
    session: Session, platform: Platform, deployment_id: str, *, approved: bool
) -> Deployment:
    """Insert the deployment if it is new (race-safe), approve it if asked; return it."""
    deployment_id = (deployment_id or "").strip()
    if not deployment_id or len(deployment_id) > 255:
        raise RegistryError("deployment_id: expected 1 to 255 characters")
    now = utcnow()
    values = {
        "platform_id": platform.id,
        "deployment_id": deployment_id,
        "status": APPROVED if approved else PENDING,
        "created_at": now,
        "approved_at": now if approved else None,
    }
    # Two first launches of a new Canvas deployment may arrive at once.
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(Deployment)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["platform_id", "deployment_id"])
    )
    deployment = find_deployment(session, platform.id, deployment_id)
    assert deployment is not None
    session.refresh(deployment)
    if approved and deployment.status != APPROVED:
        deployment.status = APPROVED
        deployment.approved_at = now
        session.flush()
    return deployment


def approve_deployment(session: Session, platform: Platform, deployment_id: str) -> Deployment:
    """Approve a pending deployment (or add it approved)."""
    return record_deployment(session, platform, deployment_id, approved=True)


def remove_deployment(session: Session, platform: Platform, deployment_id: str) -> bool:
    removed = session.execute(
        delete(Deployment)
        .where(Deployment.platform_id == platform.id, Deployment.deployment_id == deployment_id)
        .returning(Deployment.id)
    ).first()
    return removed is not None


# -- origins (CSP frame-ancestors) --------------------------------------------
def frame_origins(session: Session) -> set[str]:
    """Origins that may frame the tool: each platform's endpoints and the ones seen in launches.

    Only platforms with an approved deployment count: anyone can register a "platform"
    through the public dynamic registration URL, and its origin must not be able to frame
    (clickjack) the tool before an administrator has approved it.
    """
    origins: set[str] = set()
    approved = select(Deployment.platform_id).where(Deployment.status == APPROVED)
    for platform in session.scalars(
        select(Platform).where(Platform.id.in_(approved)).order_by(Platform.id)
    ):
        for url in (platform.issuer, platform.auth_login_url):
            if url.startswith(("http://", "https://")):
                origins.add(origin(url))
        origins.update((platform.details or {}).get("frame_origins", []))
    return origins


def remember_frame_origin(session: Session, platform: Platform, url: str | None) -> bool:
    """Record the origin of a URL the platform signed (a return URL); True when new."""
    if not url or not url.startswith(("http://", "https://")):
        return False
    found = origin(url)
    details = dict(platform.details or {})
    known = list(details.get("frame_origins", []))
    if found in known or found in (origin(platform.issuer), origin(platform.auth_login_url)):
        return False
    if len(known) >= MAX_FRAME_ORIGINS:
        return False
    details["frame_origins"] = [*known, found]
    platform.details = details  # reassigned: JSON columns do not track in-place changes
    session.flush()
    return True
