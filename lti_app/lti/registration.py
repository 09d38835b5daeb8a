"""LTI Dynamic Registration 1.0 (the tool's side), for Moodle 4.1+, Canvas and others.

The platform opens ``/lti/register?openid_configuration=...&registration_token=...``.
The tool reads the platform's OpenID configuration, posts its own registration
to the platform's registration endpoint, stores the platform and its
deployment, and the page tells the platform to close the dialog.

The registration URL is public by design, so a registration by itself grants
nothing: its deployment stays pending until an administrator approves it,
unless ``SKILLSIGN_AUTO_APPROVE_DEPLOYMENTS`` is on or the URL carries an
invitation made with ``skillsign platforms invite``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from lti_app.db.models import Platform
from lti_app.errors import AppError
from lti_app.lti import http, storage
from lti_app.lti.claims import DEEP_LINKING_REQUEST, RESOURCE_LINK_REQUEST
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
# Canvas cloud publishes one issuer for every school; its configuration URL is on
# an Instructure host that is not the issuer's.
CANVAS_HOST_SUFFIXES = (".instructure.com", ".canvaslms.com")
INVITE_PREFIX = "invite:"
_BEARER_TOKEN = re.compile(r"^[A-Za-z0-9._~+/-]+=*$")


class RegistrationError(AppError):
    status = 400
    title = "Registration failed"
    code = "lti.registration_failed"


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


def _check_http_url(value: str, name: str) -> str:
    try:
        scheme = urlsplit(value or "").scheme
    except ValueError:
        scheme = ""
    if scheme not in ("http", "https") or not _hostname(value or ""):
        raise RegistrationError(f"{name} must be an http(s) URL, got {value!r}.")
    return value


def _same_domain(config_url: str, issuer: str, product: str) -> bool:
    config_host, issuer_host = _hostname(config_url), _hostname(issuer)
    if config_host and config_host == issuer_host:
        return True
    return product == "canvas" and all(
        host.endswith(CANVAS_HOST_SUFFIXES) for host in (config_host, issuer_host)
    )


def fetch_configuration(url: str, token: str | None) -> dict[str, Any]:
    _check_http_url(url, "openid_configuration")
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        config = http.request_json("GET", url, headers=headers)
    except http.OutboundError as exc:
        raise RegistrationError(
            f"Could not read the platform configuration at {url}: {exc}"
        ) from exc
    if not isinstance(config, dict):
        raise RegistrationError(f"The platform configuration at {url} is not a JSON object.")
    missing = [
        k
        for k in (
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "registration_endpoint",
        )
        if not isinstance(config.get(k), str) or not config[k]
    ]
    if missing:
        raise RegistrationError(f"The platform configuration at {url} lacks {', '.join(missing)}.")
    algs = config.get("id_token_signing_alg_values_supported")
    if isinstance(algs, list) and "RS256" not in algs:
        raise RegistrationError("The platform does not sign id_tokens with RS256.")
    product = product_of(config)
    if not _same_domain(url, config["issuer"], product):
        raise RegistrationError(
            f"The configuration's issuer ({config['issuer']}) is not on the domain of the "
            f"configuration URL ({url}); refusing it."
        )
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
) -> RegistrationResult:
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
    config = fetch_configuration(openid_configuration, registration_token)
    body = tool_registration(base_url, config)
    headers = {"Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    try:
        answer = http.request_json(
            "POST",
            config["registration_endpoint"],
            headers=headers,
            json_body=body,
            expect=(200, 201),
        )
    except http.OutboundError as exc:
        raise RegistrationError(f"The platform refused the registration: {exc}") from exc
    if (
        not isinstance(answer, dict)
        or not isinstance(answer.get("client_id"), str)
        or not answer["client_id"]
    ):
        raise RegistrationError("The platform's registration answer has no client_id.")
    tool_answer = answer.get(TOOL_CONFIGURATION)
    deployment_id = tool_answer.get("deployment_id") if isinstance(tool_answer, dict) else None
    deployment_id = deployment_id if isinstance(deployment_id, str) and deployment_id else None
    product = product_of(config)
    try:
        platform, approved = _store(session, config, answer, invited, auto_approve, deployment_id)
    except registry.RegistryError as exc:
        # The platform's own documents named something we cannot keep (a bad or huge URL).
        raise RegistrationError(f"The platform's registration cannot be stored: {exc}.") from exc
    return RegistrationResult(platform, deployment_id, approved, product)


def _store(
    session: Session,
    config: dict[str, Any],
    answer: dict[str, Any],
    invited: bool,
    auto_approve: bool,
    deployment_id: str | None,
) -> tuple[Platform, bool]:
    product = product_of(config)
    platform_config = config.get(PLATFORM_CONFIGURATION)
    version = platform_config.get("version") if isinstance(platform_config, dict) else None
    audience = config.get("authorization_server")
    platform = registry.add_platform(
        session,
        issuer=config["issuer"],
        client_id=answer["client_id"],
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
        update=True,
    )
    approved = auto_approve or invited
    if deployment_id:
        registry.record_deployment(session, platform, deployment_id, approved=approved)
    return platform, approved
