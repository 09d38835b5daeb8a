"""LTI Dynamic Registration 1.0 (the tool's side), for Moodle 4.1+, Canvas and others.

The platform opens ``/lti/register?openid_configuration=...&registration_token=...``.
The tool reads the platform's OpenID configuration, posts its own registration
to the platform's registration endpoint, stores the platform and its
deployment, and the page tells the platform to close the dialog.

The registration URL is public by design, so a registration by itself grants
nothing: its deployment stays pending until an administrator approves it,
unless ``SKILLSIGN_AUTO_APPROVE_DEPLOYMENTS`` is on or the URL carries an
invitation made with ``skillsign platforms invite``.

What a stranger controls here is the configuration URL and whatever its server
answers, so:

* a registration never changes a registered platform: an issuer + client_id that
  is already registered is refused (an administrator changes its URLs with
  ``skillsign platforms update``); a new client_id of a known issuer is a new,
  pending platform;
* the configuration URL must be on the issuer's exact origin (scheme, host and
  port), except for the vendor clouds named in ``VENDOR_CONFIG_HOSTS``;
  redirects are refused, and every URL is https (plain http only for a loopback
  host outside production);
* what the remote server answered never reaches the caller: every failure to
  read or use it is one sentence, the details go to the log.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from lti_app.db.models import Platform
from lti_app.errors import AppError
from lti_app.lms.claims import DEEP_LINKING_REQUEST, RESOURCE_LINK_REQUEST
from lti_app.lti import http, storage
from lti_app.outbound import Fetcher
from lti_app.services import registry

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email", "locale")
TOOL_NAME = "skillsign"
TOOL_DESCRIPTION = "Competency checklists, instructor sign-off and Open Badges 3.0 credentials."
# Vendor clouds whose configuration is served from a vendor host that is not the issuer's:
# exact issuer -> host suffixes its configuration URL may be on (https, port 443). Only these
# issuers get the exception; every other issuer's configuration must be on its own origin.
VENDOR_CONFIG_HOSTS: dict[str, tuple[str, ...]] = {
    # Canvas cloud: one issuer per environment for every school; each school's
    # configuration URL is on its own <school>.instructure.com host.
    "https://canvas.instructure.com": (".instructure.com",),
    "https://canvas.beta.instructure.com": (".instructure.com",),
    "https://canvas.test.instructure.com": (".instructure.com",),
}
# Members of the configuration that name URLs we later call or send browsers to.
ENDPOINTS = ("registration_endpoint", "authorization_endpoint", "token_endpoint", "jwks_uri")
INVITE_PREFIX = "invite:"
_BEARER_TOKEN = re.compile(r"^[A-Za-z0-9._~+/-]+=*$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# One sentence for every failure to read or use the remote answers: which one it was
# (refused connection, 404, not JSON...) would make /lti/register a probe of other hosts.
UNREADABLE = (
    "The platform's configuration could not be read; check the registration URL, or ask your "
    "skillsign administrator, who can see the details in the log."
)
ALREADY_REGISTERED = (
    "This platform is already registered here; an administrator changes its settings."
)

log = logging.getLogger("skillsign.lti")


class RegistrationError(AppError):
    status = 400
    title = "Registration failed"
    code = "lti.registration_failed"


class AlreadyRegistered(RegistrationError):
    status = 409
    code = "lti.already_registered"


@dataclass(frozen=True)
class RegistrationResult:
    platform: Platform
    deployment_id: str | None
    approved: bool
    product: str


def _hostname(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # e.g. "http://[": no host we could name
        return ""


def url_origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an http(s) URL, host lower-cased and the default port
    filled in; None for anything else (other schemes, no host, user info, a bad port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    return scheme, host, _DEFAULT_PORTS[scheme] if port is None else port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def transport_ok(url: str, *, allow_http_loopback: bool) -> bool:
    """https, or plain http to a loopback host when allowed (development and tests)."""
    found = url_origin(url)
    if found is None:
        return False
    return found[0] == "https" or (allow_http_loopback and _is_loopback(found[1]))


def config_url_allowed(config_url: str, issuer: str) -> bool:
    """May the configuration at ``config_url`` speak for ``issuer``? Only from the issuer's
    exact origin, or from a host ``VENDOR_CONFIG_HOSTS`` names for that exact issuer."""
    config, own = url_origin(config_url), url_origin(issuer)
    if config is None or own is None:
        return False
    if config == own:
        return True
    suffixes = VENDOR_CONFIG_HOSTS.get(issuer, ())
    scheme, host, port = config
    return (
        scheme == "https"
        and port == 443
        and any(host.endswith(suffix) and len(host) > len(suffix) for suffix in suffixes)
    )


def _check_config_url(value: str, allow_http_loopback: bool) -> None:
    # The caller's own input: specific messages reveal nothing about another host.
    if url_origin(value or "") is None:
        raise RegistrationError(f"openid_configuration must be an http(s) URL, got {value!r}.")
    if not transport_ok(value, allow_http_loopback=allow_http_loopback):
        raise RegistrationError(
            "openid_configuration must be an https URL (plain http only for a loopback "
            "address, outside production)."
        )


def _without_query(url: str) -> str:
    # Platforms may put their registration token in the query: keep it out of the log.
    return url.split("?", 1)[0].split("#", 1)[0][:300]


def _unreadable(stage: str, url: str, reason: str, status: int | None = None) -> RegistrationError:
    """Log what went wrong with the remote answer; the caller gets ``UNREADABLE`` only."""
    log.warning(
        "dynamic registration failed",
        extra={"stage": stage, "url": _without_query(url), "reason": reason, "status": status},
    )
    return RegistrationError(UNREADABLE)


def fetch_configuration(
    url: str,
    token: str | None,
    *,
    allow_http_loopback: bool = False,
    fetcher: Fetcher | None = None,
) -> dict[str, Any]:
    """The platform's OpenID configuration, checked to speak for its issuer."""
    _check_config_url(url, allow_http_loopback)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        # A redirect would let the issuer's host hand the answer to any other server.
        config = http.request_json(
            "GET", url, fetcher=fetcher, headers=headers, allow_redirects=False
        )
    except http.OutboundError as exc:
        raise _unreadable("configuration", url, str(exc), getattr(exc, "status", None)) from exc
    if not isinstance(config, dict):
        raise _unreadable("configuration", url, "not a JSON object")
    missing = [
        k for k in ("issuer", *ENDPOINTS) if not isinstance(config.get(k), str) or not config[k]
    ]
    if missing:
        raise _unreadable("configuration", url, f"lacks {', '.join(missing)}")
    algs = config.get("id_token_signing_alg_values_supported")
    if isinstance(algs, list) and "RS256" not in algs:
        raise _unreadable("configuration", url, "id_tokens not signed with RS256")
    if not config_url_allowed(url, config["issuer"]):
        log.warning(
            "dynamic registration refused: issuer not on the configuration's origin",
            extra={"url": _without_query(url), "issuer": config["issuer"][:300]},
        )
        # Names only the origin the caller sent, not the issuer the remote server claimed.
        raise RegistrationError(
            "The configuration's issuer is not on the origin of the configuration URL "
            f"({registry.origin(url)}); refusing it."
        )
    insecure = [
        k for k in ENDPOINTS if not transport_ok(config[k], allow_http_loopback=allow_http_loopback)
    ]
    if insecure:
        raise _unreadable("configuration", url, f"not https: {', '.join(insecure)}")
    return config


def product_of(config: dict[str, Any]) -> str:
    platform = config.get(PLATFORM_CONFIGURATION)
    code = platform.get("product_family_code") if isinstance(platform, dict) else None
    code = code.lower() if isinstance(code, str) else ""
    return code if code in ("canvas", "moodle") else "generic"


def tool_registration(base_url: str, config: dict[str, Any]) -> dict[str, Any]:
    """The client registration we send, with the extensions the platform understands."""
    host = urlsplit(base_url).hostname or ""
    launch = f"{base_url}/lti/launch"
    product = product_of(config)
    supported = config.get("scopes_supported")
    scopes = [s for s in SCOPES if not isinstance(supported, list) or s in supported]
    resource: dict[str, Any] = {
        "type": RESOURCE_LINK_REQUEST,
        "target_link_uri": launch,
        "label": TOOL_NAME,
    }
    deep_link: dict[str, Any] = {
        "type": DEEP_LINKING_REQUEST,
        "target_link_uri": launch,
        "label": TOOL_NAME,
    }
    tool_config: dict[str, Any] = {
        "domain": host,
        "target_link_uri": launch,
        "description": TOOL_DESCRIPTION,
        "claims": list(CLAIMS),
        "messages": [resource, deep_link],
    }
    if product == "canvas":
        # Canvas places messages by its placement names and sends names and emails
        # only at privacy level "public".
        resource["placements"] = ["link_selection"]
        deep_link["placements"] = ["assignment_selection", "link_selection"]
        tool_config["https://canvas.instructure.com/lti/privacy_level"] = "public"
        tool_config["https://canvas.instructure.com/lti/tool_id"] = TOOL_NAME
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": f"{base_url}/lti/login",
        "redirect_uris": [launch],
        "client_name": TOOL_NAME,
        "jwks_uri": f"{base_url}/.well-known/jwks.json",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(scopes),
        TOOL_CONFIGURATION: tool_config,
    }


def make_invite(session: Session, hours: int = 24) -> str:
    """A one-time code whose registration is approved at once; returns the code."""
    code = secrets.token_urlsafe(24)
    storage.put_value(
        session, INVITE_PREFIX + storage.digest(code), {"ok": True}, timedelta(hours=hours)
    )
    return code


def register(
    session: Session,
    *,
    openid_configuration: str,
    registration_token: str | None,
    invite: str | None,
    base_url: str,
    auto_approve: bool,
    allow_http_loopback: bool = False,
    private_networks: bool = False,
) -> RegistrationResult:
    """Register the platform behind ``openid_configuration``; ``allow_http_loopback``
    accepts plain http to loopback hosts (never in production).

    The URLs come from an anonymous request, so the fetches may reach only public
    addresses unless ``private_networks`` (development) or an invitation (an administrator
    vouches for an on-premises LMS) says otherwise: /lti/register is no probe of the
    tool's own network."""
    invited = _check_request(session, openid_configuration, registration_token, invite)
    fetcher = http.client() if invited or private_networks else http.verifier()
    config = fetch_configuration(
        openid_configuration,
        registration_token,
        allow_http_loopback=allow_http_loopback,
        fetcher=fetcher,
    )
    body = tool_registration(base_url, config)
    endpoint = config["registration_endpoint"]
    answer = _post_registration(fetcher, endpoint, registration_token, body)
    tool_answer = answer.get(TOOL_CONFIGURATION)
    deployment_id = tool_answer.get("deployment_id") if isinstance(tool_answer, dict) else None
    deployment_id = deployment_id if isinstance(deployment_id, str) and deployment_id else None
    product = product_of(config)
    try:
        platform, approved = _store(session, config, answer, invited, auto_approve, deployment_id)
    except registry.RegistryError as exc:
        # The platform's own documents named something we cannot keep (a bad or huge URL).
        raise _unreadable("store", endpoint, str(exc)) from exc
    return RegistrationResult(platform, deployment_id, approved, product)


def _check_request(
    session: Session,
    openid_configuration: str,
    registration_token: str | None,
    invite: str | None,
) -> bool:
    """Refuse a request that cannot start a registration; True if it brings a valid
    invitation (which it uses up)."""
    if not openid_configuration:
        raise RegistrationError(
            "This address is for LTI Dynamic Registration: paste it into your platform's "
            "tool registration page; the platform adds openid_configuration and "
            "registration_token."
        )
    invited = (
        bool(invite)
        and storage.take_value(session, INVITE_PREFIX + storage.digest(invite or "")) is not None
    )
    if invite and not invited:
        raise RegistrationError(
            "The invitation in this registration address is unknown, expired or used."
        )
    if registration_token and not _BEARER_TOKEN.match(registration_token):
        # It goes into an Authorization header: RFC 6750's token characters only.
        raise RegistrationError("The registration_token is not a valid bearer token.")
    return invited


def _post_registration(
    fetcher: Fetcher, endpoint: str, registration_token: str | None, body: dict[str, Any]
) -> dict[str, Any]:
    """Send the tool's registration to the platform; its answer, which names our client_id."""
    headers = {"Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    try:
        answer = http.request_json(
            "POST",
            endpoint,
            fetcher=fetcher,
            headers=headers,
            json_body=body,
            expect=(200, 201),
            allow_redirects=False,
        )
    except http.OutboundError as exc:
        raise _unreadable("registration", endpoint, str(exc), getattr(exc, "status", None)) from exc
    if (
        not isinstance(answer, dict)
        or not isinstance(answer.get("client_id"), str)
        or not answer["client_id"].strip()
    ):
        raise _unreadable("registration", endpoint, "the answer has no client_id")
    return answer


def _store(
    session: Session,
    config: dict[str, Any],
    answer: dict[str, Any],
    invited: bool,
    auto_approve: bool,
    deployment_id: str | None,
) -> tuple[Platform, bool]:
    product = product_of(config)
    # add_platform strips both; look up what it would store.
    issuer, client_id = config["issuer"].strip(), answer["client_id"].strip()
    existing = registry.find_platform(session, issuer, client_id)
    if existing is not None:
        # Whoever answers for the issuer's origin must not replace the keys URL (and so
        # the keys) of a platform an administrator trusts: that is an admin action.
        log.warning(
            "dynamic registration refused: platform already registered",
            extra={"iss": issuer, "client_id": client_id, "platform": existing.id},
        )
        raise AlreadyRegistered(ALREADY_REGISTERED)
    platform_config = config.get(PLATFORM_CONFIGURATION)
    version = platform_config.get("version") if isinstance(platform_config, dict) else None
    audience = config.get("authorization_server")
    platform = registry.add_platform(
        session,
        issuer=issuer,
        client_id=client_id,
        auth_login_url=config["authorization_endpoint"],
        auth_token_url=config["token_endpoint"],
        jwks_url=config["jwks_uri"],
        name=f"{product.capitalize()} {_hostname(config['issuer'])}",
        product=product,
        auth_audience=audience
        if isinstance(audience, str) and audience.startswith("http")
        else None,
        details={
            "registration": {"dynamic": True, "version": version, "invited": invited},
            # An invited registration vouches for the platform's later deployments too
            # (Canvas makes one per install and names none at registration).
            **({"auto_approve_deployments": True} if invited else {}),
        },
    )
    approved = auto_approve or invited
    if deployment_id:
        registry.record_deployment(session, platform, deployment_id, approved=approved)
    return platform, approved
