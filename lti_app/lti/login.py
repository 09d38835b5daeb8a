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

from sqlalchemy.orm import Session

from lti_app.db.models import Platform
from lti_app.lti import storage
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


def _param(params: Mapping[str, str], name: str, limit: int = 2048) -> str | None:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    if len(value) > limit:
        raise LaunchError("lti.login_invalid", f"The login parameter {name} is too long.")
    return value


def find_platform(session: Session, iss: str, client_id: str | None) -> Platform:
    if client_id:
        platform = registry.find_platform(session, iss, client_id)
        if platform is None:
            raise LaunchError(
                "lti.unknown_platform",
                f"No platform with issuer {iss} and client_id {client_id} is registered with "
                "this tool.",
                status=403,
            )
        return platform
    candidates = registry.platforms_for_issuer(session, iss)
    if not candidates:
        raise LaunchError(
            "lti.unknown_platform",
            f"No platform with issuer {iss} is registered with this tool.",
            status=403,
        )
    if len(candidates) > 1:
        raise LaunchError(
            "lti.login_invalid",
            f"Issuer {iss} has several registrations here; the login request must name its "
            "client_id.",
        )
    return candidates[0]


def start_login(
    session: Session,
    params: Mapping[str, str],
    *,
    base_url: str,
    launch_url: str,
    browser_id: str | None,
) -> LoginStart:
    """Check the login request, store the state, and build the platform auth URL."""
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
    platform = find_platform(session, iss, _param(params, "client_id", 255))
    storage_target = _param(params, "lti_storage_target", 255)

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
    storage.save_state(session, state, record)

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
    message_hint = _param(params, "lti_message_hint", 8192)
    if message_hint:
        auth["lti_message_hint"] = message_hint
    separator = "&" if "?" in platform.auth_login_url else "?"
    return LoginStart(
        platform=platform,
        auth_url=platform.auth_login_url + separator + urlencode(auth),
        state=state,
        nonce=nonce,
        browser_id=browser,
        new_browser_id=new_browser,
        storage_target=storage_target,
    )


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
