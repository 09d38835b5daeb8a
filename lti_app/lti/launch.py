"""Launch validation: pylti1p3's MessageLaunch with its weak steps replaced.

pylti1p3 2.0.0 keeps: JWT format decoding, its message validators (roles claim,
version, resource link, deep linking settings) and launch data storage (for
Deep Linking). Replaced, each for a gap seen in a test (docs/architecture.md §4):

* registration lookup: ``aud`` must contain our client_id; ``azp`` must equal it
  when present and is required when ``aud`` has several values (pylti1p3 takes
  ``aud[0]`` and verifies neither);
* signature: checked with joserfc against keys from ``PlatformKeyCache`` (fetched
  with a timeout, cached, refetched once on an unknown kid) and only RS256/384/512
  (pylti1p3 fetches the JWKS on every launch, with no timeout, and converts each
  JWK to PEM through jwcrypto every time; keys parsed once are cheaper);
* time claims: exp and iat are required, with a 60 s leeway for clock skew;
* ``target_link_uri`` must point at this tool;
* deployment: an unknown deployment of a known platform is recorded as pending;
* nonce: consumed once in ``lti_nonces`` (pylti1p3 never consumes it);
* state: taken once from the database and bound to the browser by cookie, or
  by the platform's storage (postMessage) when the platform offers it.

The steps run in an order that gives each failure its own precise message.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from joserfc import jwt as jose_jwt
from joserfc.errors import BadSignatureError, JoseError
from pylti1p3.cookie import CookieService
from pylti1p3.exception import LtiException
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.request import Request
from pylti1p3.session import SessionService
from sqlalchemy.orm import Session

from lti_app.db.models import Deployment, Platform
from lti_app.lms import claims as c
from lti_app.lti import http, registry_cache, storage
from lti_app.lti.errors import AGAIN, LaunchError
from lti_app.lti.jwks import KeySetError, PlatformKeyCache
from lti_app.lti.tool_conf import RegistryToolConf
from lti_app.services import registry

ALGORITHMS = ("RS256", "RS384", "RS512")
LEEWAY = 60  # seconds of clock skew tolerated on exp, iat, nbf
SUPPORTED_MESSAGES = (c.RESOURCE_LINK_REQUEST, c.DEEP_LINKING_REQUEST)


class ParamsRequest(Request):
    """The launch POST as pylti1p3 sees it: form parameters only, no session."""

    def __init__(self, params: Mapping[str, str], secure: bool) -> None:
        self._params = params
        self._secure = secure

    @property
    def session(self) -> dict[str, Any]:
        return {}

    def is_secure(self) -> bool:
        return self._secure

    def get_param(self, key: str) -> Any:
        return self._params.get(key)


class NoCookies(CookieService):
    """State binding is ours (``validate_state``); pylti1p3 sets and reads no cookie."""

    def get_cookie(self, name: str) -> None:
        return None

    def set_cookie(self, name: str, value: str | int, exp: int | None = 3600) -> None:
        return None


@dataclass(frozen=True)
class LaunchPolicy:
    base_url: str
    auto_approve_deployments: bool = False
    leeway: int = LEEWAY


def points_at_tool(url: str, base_url: str) -> bool:
    """Same scheme, host and port as the tool, and under its path."""
    try:
        target, base = urlsplit(url), urlsplit(base_url)
    except ValueError:  # e.g. "http://[" : not a URL, so not ours
        return False
    if (target.scheme, target.netloc.lower()) != (base.scheme, base.netloc.lower()):
        return False
    base_path = base.path.rstrip("/")
    return not base_path or target.path == base_path or target.path.startswith(base_path + "/")


def _has_nul(value: Any) -> bool:
    """True if a NUL character is in any key or string of a decoded JSON value."""
    stack = [value]  # iterative: a hostile token may nest as deep as json.loads allows
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class ToolMessageLaunch(MessageLaunch):
    """One launch POST. ``validate()`` raises LaunchError or leaves the results below."""

    platform: Platform
    deployment: Deployment
    binding: str  # "cookie" or "storage"
    state_record: dict[str, Any]

    def __init__(
        self,
        params: Mapping[str, str],
        *,
        db: Session,
        tool_conf: RegistryToolConf,
        keys: PlatformKeyCache,
        policy: LaunchPolicy,
        browser_id: str | None,
        secure: bool,
        record_pending: Any = None,
    ) -> None:
        request = ParamsRequest(params, secure)
        super().__init__(
            request,
            tool_conf,
            session_service=SessionService(request),
            cookie_service=NoCookies(),
            launch_data_storage=storage.DbLaunchDataStorage(db),
            # pylti1p3 never fetches: platform keys come through self._keys (jwks.py).
            requests_session=http.pylti_session(),
        )
        self._db = db
        self._keys = keys
        self._policy = policy
        self._browser_id = browser_id
        self._state_taken: dict[str, Any] | None = None  # set by validate_nonce
        # The registry's stamp as the nonce statement saw it (None on SQLite): the caller
        # checks the cached platform and deployment against it (lti/registry_cache.py).
        self.registry_stamp: int | None = None
        # Records a pending deployment in its own transaction (it must outlive this
        # request's rollback); injected so the class stays free of Flask.
        self._record_pending = record_pending

    def _get_request_param(self, key: str) -> Any:
        value = self._request.get_param(key)
        return value if isinstance(value, str) else None

    @property
    def claims(self) -> dict[str, Any]:
        return self._jwt["body"]  # type: ignore[return-value]

    # -- pipeline -------------------------------------------------------------
    def validate(self) -> ToolMessageLaunch:
        if self._restored:
            raise LtiException("Can't validate restored launch")
        self._validated = True
        try:
            self._check_request()
            self._decode_format()
            self.validate_registration()
            self.validate_jwt_signature()
            self._validate_claims()
            self.validate_deployment()
            self._validate_message()
            self.validate_nonce()
            self.validate_state()
            self.save_launch_data()
        except Exception:
            self._validated = False
            raise
        return self

    def _check_request(self) -> None:
        if not self._get_request_param("id_token"):
            raise LaunchError("lti.missing_id_token", "The launch request carries no id_token.")
        if not self._get_request_param("state"):
            raise LaunchError(
                "lti.missing_state",
                "The launch request carries no state parameter, so it cannot be matched to a "
                f"login started by this browser. {AGAIN}",
            )

    def _decode_format(self) -> None:
        try:
            self.validate_jwt_format()
        except LtiException as exc:
            raise LaunchError("lti.malformed_token", f"The id_token is not a JWT: {exc}.") from exc
        if not isinstance(self._jwt.get("body"), dict) or not isinstance(
            self._jwt.get("header"), dict
        ):
            raise LaunchError(
                "lti.malformed_token", "The id_token's header or claims are not JSON objects."
            )
        if _has_nul(self._jwt["body"]) or _has_nul(self._jwt["header"]):
            # No claim has a use for U+0000, and PostgreSQL cannot take it even in a query.
            raise LaunchError(
                "lti.invalid_claim", "The id_token contains a NUL character (U+0000)."
            )

    def validate_registration(self) -> ToolMessageLaunch:
        body = self.claims
        iss = body.get("iss")
        if not isinstance(iss, str) or not iss:
            raise LaunchError("lti.missing_claim", "The id_token has no iss (issuer) claim.")
        aud = body.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        audiences = [a for a in audiences if isinstance(a, str) and a]
        if not audiences:
            raise LaunchError("lti.missing_claim", "The id_token has no aud (audience) claim.")
        source = registry_cache if registry_cache.enabled(self._db) else registry
        platforms = {p.client_id: p for p in source.platforms_for_issuer(self._db, iss)}
        if not platforms:
            raise LaunchError(
                "lti.unknown_platform",
                f"No platform with issuer {iss} is registered with this tool. An administrator "
                "must add it (skillsign platforms add, or dynamic registration).",
                status=403,
            )
        azp = body.get("azp")
        if azp is not None:
            if not isinstance(azp, str) or azp not in audiences:
                raise LaunchError(
                    "lti.wrong_azp",
                    f"The id_token's azp ({azp!r}) is not one of its audiences {audiences}.",
                )
            platform = platforms.get(azp)
            if platform is None:
                raise LaunchError(
                    "lti.wrong_azp",
                    f"The id_token's azp ({azp!r}) is not this tool's client_id for issuer {iss}.",
                )
        else:
            if len(audiences) > 1:
                raise LaunchError(
                    "lti.missing_azp",
                    f"The id_token has several audiences {audiences} but no azp claim naming "
                    "this tool.",
                )
            platform = platforms.get(audiences[0])
            if platform is None:
                raise LaunchError(
                    "lti.wrong_audience",
                    f"The id_token's aud ({audiences[0]!r}) is not this tool's client_id for "
                    f"issuer {iss}: the token was issued for another tool.",
                )
        self.platform = platform
        self._registration = self._tool_config.registration_for(platform)
        return self

    def validate_jwt_signature(self) -> ToolMessageLaunch:
        header = self._jwt["header"]
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise LaunchError(
                "lti.bad_algorithm",
                f"The id_token is signed with {alg!r}; LTI requires RS256 (RS384 and RS512 are "
                "also accepted).",
            )
        if not isinstance(kid, str) or not kid:
            raise LaunchError("lti.missing_kid", "The id_token's header names no key (kid).")
        try:
            key = self._keys.key(self.platform.jwks_url, kid)
        except KeySetError as exc:
            raise LaunchError(exc.code, exc.message + ".") from exc
        try:
            jose_jwt.decode(self._get_id_token(), key, algorithms=[alg])
        except BadSignatureError as exc:
            raise LaunchError(
                "lti.bad_signature",
                f"The id_token's signature does not verify with the platform's key {kid}: it "
                "was altered or not signed by the platform.",
            ) from exc
        except (JoseError, ValueError) as exc:
            raise LaunchError(
                "lti.malformed_token", f"The id_token could not be verified: {exc}."
            ) from exc
        return self

    def _time_claim(self, name: str, required: bool) -> int | None:
        value = self.claims.get(name)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LaunchError(
                "lti.missing_claim", f"The id_token's {name} claim is missing or not a number."
            )
        return int(value)

    def _validate_claims(self) -> None:
        body, now, leeway = self.claims, int(time.time()), self._policy.leeway
        exp = self._time_claim("exp", required=True)
        assert exp is not None
        if now > exp + leeway:
            when = datetime.fromtimestamp(exp, UTC).isoformat(timespec="seconds")
            raise LaunchError(
                "lti.expired",
                f"The id_token expired {now - exp} s ago (exp {when}). {AGAIN}",
                status=401,
            )
        iat = self._time_claim("iat", required=True)
        nbf = self._time_claim("nbf", required=False)
        for name, value in (("iat", iat), ("nbf", nbf)):
            if value is not None and value > now + leeway:
                raise LaunchError(
                    "lti.not_yet_valid",
                    f"The id_token's {name} is {value - now} s in the future; the platform's "
                    "clock or this server's is wrong.",
                    status=401,
                )
        nonce = body.get("nonce")
        if not isinstance(nonce, str) or not nonce or len(nonce) > 1024:
            raise LaunchError("lti.missing_claim", "The id_token has no usable nonce claim.")
        deployment_id = body.get(c.DEPLOYMENT_ID)
        if not isinstance(deployment_id, str) or not deployment_id or len(deployment_id) > 255:
            raise LaunchError(
                "lti.missing_claim", "The id_token has no usable deployment_id claim."
            )
        sub = body.get("sub")
        if sub is not None and (not isinstance(sub, str) or len(sub) > 255):
            raise LaunchError(
                "lti.invalid_claim",
                "The id_token's sub claim is not a string of at most 255 characters.",
            )
        target = body.get(c.TARGET_LINK_URI)
        if not isinstance(target, str) or not points_at_tool(target, self._policy.base_url):
            raise LaunchError(
                "lti.wrong_target",
                f"The launch's target_link_uri ({target!r}) does not point at this tool "
                f"({self._policy.base_url}).",
            )

    def validate_deployment(self) -> ToolMessageLaunch:
        deployment_id = self.claims[c.DEPLOYMENT_ID]
        row = (
            registry_cache.find_deployment(self._db, self.platform, deployment_id)
            if registry_cache.enabled(self._db)
            else registry.find_deployment(self._db, self.platform.id, deployment_id)
        )
        trusted = self._policy.auto_approve_deployments or bool(
            (self.platform.details or {}).get("auto_approve_deployments")
        )
        if row is None and trusted:
            row = registry.record_deployment(self._db, self.platform, deployment_id, approved=True)
        elif row is None and self._record_pending is not None:
            self._record_pending(self.platform.id, deployment_id)
        if row is None or row.status != registry.APPROVED:
            raise LaunchError(
                "lti.pending_deployment",
                f"This installation of skillsign in {self.platform.name or self.platform.issuer} "
                f"(deployment {deployment_id}) is new and waits for a skillsign administrator "
                f"to approve it: skillsign platforms approve-deployment {self.platform.id} "
                f"{deployment_id}",
                status=403,
            )
        self.deployment = row
        return self

    def _validate_message(self) -> None:
        message_type = self.claims.get(c.MESSAGE_TYPE)
        if message_type not in SUPPORTED_MESSAGES:
            raise LaunchError(
                "lti.unsupported_message",
                f"skillsign handles resource link and deep linking launches, not {message_type!r}.",
            )
        try:
            self.validate_message()
        except (LtiException, AttributeError, TypeError) as exc:
            raise LaunchError(
                "lti.invalid_message", f"The launch message is incomplete: {exc}."
            ) from exc

    def validate_nonce(self) -> ToolMessageLaunch:
        exp = int(self.claims["exp"])
        keep_until = datetime.fromtimestamp(max(exp, int(time.time())) + self._policy.leeway, UTC)
        keep_until = max(keep_until, datetime.now(UTC) + storage.STATE_TTL)
        # The state is taken in the same round trip; validate_state reads what came back.
        fresh, self._state_taken, self.registry_stamp = storage.consume_nonce_and_take_state(
            self._db,
            self.claims["nonce"],
            self.platform.issuer,
            keep_until,
            self._get_request_param("state") or "",
        )
        if not fresh:
            raise LaunchError(
                "lti.replay",
                f"This id_token was already used: its nonce has been seen before (a replayed "
                f"launch). {AGAIN}",
                status=401,
            )
        return self

    def validate_state(self) -> ToolMessageLaunch:
        record = self._state_taken
        if record is None:
            raise LaunchError(
                "lti.unknown_state",
                "The launch's state is unknown, expired or already used: the login step was "
                f"not made by this tool in the last {int(storage.STATE_TTL.total_seconds() // 60)} "
                f"minutes. {AGAIN}",
                status=401,
            )
        if record.get("nonce") != storage.digest(self.claims["nonce"]):
            raise LaunchError(
                "lti.nonce_mismatch",
                "The id_token's nonce is not the one this tool sent for this state at login.",
                status=401,
            )
        if record.get("platform_id") != self.platform.id:
            raise LaunchError(
                "lti.state_mismatch",
                "The state was issued for a login with another platform.",
                status=401,
            )
        if self._browser_id and storage.digest(self._browser_id) == record.get("browser"):
            self.binding = "cookie"
        elif record.get("storage_target"):
            self.binding = "storage"  # checked in the browser against the platform's storage
        else:
            raise LaunchError(
                "lti.state_not_bound",
                "This browser did not send back the cookie set when the launch started, so the "
                "launch cannot be tied to this browser. If your browser blocks cookies inside "
                "the course page, open skillsign in a new window from your course.",
                status=401,
            )
        self.state_record = record
        return self

    def save_launch_data(self) -> ToolMessageLaunch:
        # Only Deep Linking needs the launch again (to answer the platform); a resource
        # launch keeps what it needs in the database rows it upserts.
        if self.claims.get(c.MESSAGE_TYPE) == c.DEEP_LINKING_REQUEST:
            self._session_service.save_launch_data(self._launch_id, self.claims)
        return self


def restore(
    launch_id: str,
    *,
    db: Session,
    tool_conf: RegistryToolConf,
    keys: PlatformKeyCache,
    policy: LaunchPolicy,
) -> ToolMessageLaunch:
    """A validated launch back from ``lti_launch_data`` (for the Deep Linking response)."""
    launch = ToolMessageLaunch(
        {}, db=db, tool_conf=tool_conf, keys=keys, policy=policy, browser_id=None, secure=True
    )
    body = launch.get_session_service().get_launch_data(launch_id)
    if not body:
        raise LaunchError(
            "lti.launch_data_expired",
            f"The deep linking request has expired. {AGAIN}",
            status=410,
        )
    launch.set_launch_id(launch_id).set_auto_validation(enable=False)
    launch.set_jwt({"body": body})
    launch.set_restored()
    launch._validated = True
    launch.validate_registration()
    return launch
