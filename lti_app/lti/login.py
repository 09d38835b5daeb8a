"""OIDC third-party-initiated login (the first step of every LTI launch).

pylti1p3's OIDCLogin keeps state and nonce in the Flask session or a cache and
drops the browser binding over plain HTTP (docs/architecture.md §4). Here the state record
(nonce hash, platform, browser binding, platform storage target) goes to the
database, so any worker or host can take the launch, and the browser is bound
by an HttpOnly cookie, or by the platform's postMessage storage when the
platform names one in ``lti_storage_target``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from lti_app.db.models import Deployment, Platform
from lti_app.lti import registry_cache, storage
from lti_app.lti.errors import LaunchError
from lti_app.lti.launch import points_at_tool
from lti_app.services import registry

BROWSER_COOKIE = "skillsign_browser"
BROWSER_COOKIE_MAX_AGE = 30 * 24 * 3600
# Login parameters carried to the "open in a new window" login.
FORWARDED = (
    "iss",
    "login_hint",
    "target_link_uri",
    "lti_message_hint",
    "client_id",
    "lti_deployment_id",
)


@dataclass(frozen=True)
class LoginStart:
    platform: Platform
    auth_url: str  # the platform's OIDC authorization URL with our parameters
    state: str
    nonce: str
    browser_id: str
    new_browser_id: bool
    storage_target: str | None
    # The registry's stamp as the state write saw it (PostgreSQL; None on SQLite): the
    # caller checks it against the cache the platform came from (lti/registry_cache.py).
    registry_stamp: int | None = None


def _param(params: Mapping[str, str], name: str, limit: int = 2048) -> str | None:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    if len(value) > limit:
        raise LaunchError("lti.login_invalid", f"The login parameter {name} is too long.")
    return value


def _approved_by_deployment(session: Session, iss: str, deployment_id: str) -> list[Platform]:
    """Platforms of ``iss`` with an approved deployment named ``deployment_id``."""
    if registry_cache.enabled(session):
        return registry_cache.approved_by_deployment(session, iss, deployment_id, registry.APPROVED)
    return list(
        session.scalars(
            select(Platform)
            .options(lazyload(Platform.deployments))
            .join(Deployment, Deployment.platform_id == Platform.id)
            .where(
                Platform.issuer == iss,
                Deployment.deployment_id == deployment_id,
                Deployment.status == registry.APPROVED,
            )
            .order_by(Platform.id)
        )
    )


def find_platform(
    session: Session, iss: str, client_id: str | None, deployment_id: str | None = None
) -> Platform:
    """The registration a login is for: by client_id; without one, the issuer's only
    registration, or (when the issuer has several) the one whose approved deployment is
    ``deployment_id``. A second registration of an issuer (e.g. a stranger's, through the
    public registration URL) must not break or take over the logins of the first."""
    cached = registry_cache.enabled(session)
    if client_id:
        platform = (registry_cache if cached else registry).find_platform(session, iss, client_id)
        if platform is None:
            raise LaunchError(
                "lti.unknown_platform",
                f"No platform with issuer {iss} and client_id {client_id} is registered with "
                "this tool.",
                status=403,
            )
        return platform
    candidates = (registry_cache if cached else registry).platforms_for_issuer(session, iss)
    if not candidates:
        raise LaunchError(
            "lti.unknown_platform",
            f"No platform with issuer {iss} is registered with this tool.",
            status=403,
        )
    if len(candidates) == 1:
        return candidates[0]
    matches = _approved_by_deployment(session, iss, deployment_id) if deployment_id else []
    if len(matches) != 1:
        raise LaunchError(
            "lti.login_invalid",
            f"Issuer {iss} has several registrations here, and this login names neither its "
            "client_id nor a deployment approved here; ask the platform's administrator to "
            "send the client_id with the login.",
        )
    return matches[0]


def may_start_login(session: Session, platform: Platform, auto_approve_deployments: bool) -> bool:
    """Only a platform an administrator has accepted sends browsers on to its
    authorization URL: one with an approved deployment, or one whose new deployments are
    approved at their first launch (an invitation, ``--auto-approve-deployments`` or
    ``SKILLSIGN_AUTO_APPROVE_DEPLOYMENTS``)."""
    if auto_approve_deployments or (platform.details or {}).get("auto_approve_deployments"):
        return True
    if registry_cache.enabled(session):
        return registry_cache.has_deployment(session, platform, registry.APPROVED)
    approved = session.scalar(
        select(Deployment.id)
        .where(Deployment.platform_id == platform.id, Deployment.status == registry.APPROVED)
        .limit(1)
    )
    return approved is not None


def start_login(
    session: Session,
    params: Mapping[str, str],
    *,
    base_url: str,
    launch_url: str,
    browser_id: str | None,
    auto_approve_deployments: bool = False,
) -> LoginStart:
    """Check the login request, store the state, and build the platform auth URL."""
    iss, login_hint = _required_params(params, base_url)
    platform = _platform_allowed_to_log_in(session, params, iss, auto_approve_deployments)
    storage_target = _param(params, "lti_storage_target", 255)
    # Read before the state is written: that write commits on its own, so every refusal
    # must come first.
    message_hint = _param(params, "lti_message_hint", 8192)

    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    new_browser = not browser_id
    browser = browser_id or secrets.token_urlsafe(32)
    record = {
        "platform_id": platform.id,
        "nonce": storage.digest(nonce),
        "browser": storage.digest(browser),
        "storage_target": storage_target,
    }
    stamp = storage.save_state(session, state, record)

    return LoginStart(
        platform=platform,
        auth_url=_auth_url(platform, launch_url, state, nonce, login_hint, message_hint),
        state=state,
        nonce=nonce,
        browser_id=browser,
        new_browser_id=new_browser,
        storage_target=storage_target,
        registry_stamp=stamp,
    )


def _required_params(params: Mapping[str, str], base_url: str) -> tuple[str, str]:
    """The login's issuer and login_hint, once its target is known to be this tool."""
    iss = _param(params, "iss")
    if not iss:
        raise LaunchError("lti.login_invalid", "The login request has no iss (issuer) parameter.")
    login_hint = _param(params, "login_hint")
    if not login_hint:
        raise LaunchError("lti.login_invalid", "The login request has no login_hint parameter.")
    target = _param(params, "target_link_uri")
    if not target or not points_at_tool(target, base_url):
        raise LaunchError(
            "lti.wrong_target",
            f"The login's target_link_uri ({target!r}) does not point at this tool ({base_url}).",
        )
    return iss, login_hint


def _platform_allowed_to_log_in(
    session: Session, params: Mapping[str, str], iss: str, auto_approve_deployments: bool
) -> Platform:
    deployment_id = _param(params, "lti_deployment_id", 255)
    platform = find_platform(session, iss, _param(params, "client_id", 255), deployment_id)
    if not may_start_login(session, platform, auto_approve_deployments):
        # Refused before any state is stored: a pending registration starts nothing.
        command = f"skillsign platforms approve-deployment {platform.id}"
        raise LaunchError(
            "lti.pending_deployment",
            f"This installation of skillsign in {platform.name or platform.issuer} is new and "
            f"waits for a skillsign administrator to approve it: {command} "
            f"{deployment_id or '<deployment id>'}",
            status=403,
        )
    return platform


def _auth_url(
    platform: Platform,
    launch_url: str,
    state: str,
    nonce: str,
    login_hint: str,
    message_hint: str | None,
) -> str:
    """The platform's registered authorization URL with the OIDC authentication request."""
    auth = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": launch_url,
        "state": state,
        "nonce": nonce,
        "login_hint": login_hint,
    }
    if message_hint:
        auth["lti_message_hint"] = message_hint
    separator = "&" if "?" in platform.auth_login_url else "?"
    return platform.auth_login_url + separator + urlencode(auth)


def needs_cookie_check(headers: Mapping[str, str], has_browser_cookie: bool) -> bool:
    """True when the login runs in a frame where third-party cookies may be blocked.

    Browsers say where a navigation lands (``Sec-Fetch-Dest``). In a top-level
    window cookies work; in a frame they work if ours already came back. Only
    the remaining case pays for a check page, before the platform's one-time
    message hint (Moodle) is spent on a launch that could not succeed.
    """
    return headers.get("Sec-Fetch-Dest", "").lower() == "iframe" and not has_browser_cookie


def new_window_params(params: Mapping[str, str]) -> dict[str, str]:
    forwarded = {k: params[k] for k in FORWARDED if isinstance(params.get(k), str) and params[k]}
    return {**forwarded, "new_window": "1"}
