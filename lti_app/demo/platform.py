"""The demo LMS's platform core: settings, its database, its keys, and JWTs both ways.

It signs id_tokens with its own RSA key (kept in the instance directory, mode
0600, never in the repository) and verifies what the tool signs (client
assertions, deep-linking responses) against the tool's published JWKS,
fetched over HTTP like any real platform does, cached, and fetched again once
when a ``kid`` is unknown (the tool rotated its key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from keys import KeyKind, KeyStore
from lti_app.demo.models import DemoBase
from lti_app.outbound import PLATFORM, Fetcher, OutboundBusy, OutboundError

log = logging.getLogger("skillsign.demo_lms")

CLIENT_ID = "skillsign-demo-client"
DEPLOYMENT_ID = "skillsign-demo-deployment-1"
MOUNT_PATH = "/demo-lms"
JWKS_CACHE_SECONDS = 300.0
LEEWAY = 60
TOKEN_LIFETIME = 300  # seconds an id_token the demo LMS signs stays valid


class DemoError(Exception):
    """A request the demo platform refuses; ``code`` is machine-readable."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


@dataclass(frozen=True)
class DemoSettings:
    tool_base_url: str  # the tool's BASE_URL, no trailing slash
    instance_dir: Path  # the demo LMS's own directory (keys, database)
    secret_key: str
    client_id: str = CLIENT_ID
    deployment_id: str = DEPLOYMENT_ID
    mount_path: str = MOUNT_PATH

    @classmethod
    def from_tool_config(cls, config: Mapping[str, Any]) -> DemoSettings:
        return cls(
            tool_base_url=str(config["BASE_URL"]).rstrip("/"),
            instance_dir=instance_dir(config),
            secret_key=derived_secret(config),
        )

    # -- the platform's own URLs (stable: the issuer is compared byte for byte) --
    @property
    def issuer(self) -> str:
        return self.tool_base_url + self.mount_path

    @property
    def auth_url(self) -> str:
        return self.issuer + "/auth"

    @property
    def token_url(self) -> str:
        return self.issuer + "/token"

    @property
    def jwks_url(self) -> str:
        return self.issuer + "/.well-known/jwks.json"

    @property
    def deep_link_return_url(self) -> str:
        return self.issuer + "/deep-link-return"

    def memberships_url(self, course_id: str) -> str:
        return f"{self.issuer}/api/courses/{course_id}/memberships"

    def lineitems_url(self, course_id: str) -> str:
        return f"{self.issuer}/api/courses/{course_id}/lineitems"

    def lineitem_url(self, course_id: str, lineitem_id: int) -> str:
        return f"{self.lineitems_url(course_id)}/{lineitem_id}"

    # -- the tool's URLs ---------------------------------------------------------
    @property
    def tool_login_url(self) -> str:
        return self.tool_base_url + "/lti/login"

    @property
    def tool_launch_url(self) -> str:
        return self.tool_base_url + "/lti/launch"

    @property
    def tool_jwks_url(self) -> str:
        return self.tool_base_url + "/.well-known/jwks.json"

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        return (self.tool_launch_url,)

    @property
    def tool_origin(self) -> str:
        parts = urlsplit(self.tool_base_url)
        return f"{parts.scheme}://{parts.netloc}"


def derived_secret(config: Mapping[str, Any]) -> str:
    """A secret of its own, derived so the two apps' cookies can never be swapped."""
    return hmac.new(
        str(config["SECRET_KEY"]).encode(), b"skillsign demo LMS", hashlib.sha256
    ).hexdigest()


def instance_dir(config: Mapping[str, Any]) -> Path:
    return Path(config["INSTANCE_DIR"]) / "demo-lms"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class DemoPlatform:
    """Everything the demo LMS keeps between requests; made ready on first use."""

    def __init__(self, tool_config: Mapping[str, Any]) -> None:
        # The tool's config is read again on first use: a test may learn the tool's
        # address (its BASE_URL) only after the app was built.
        self._tool_config = tool_config
        self._settings: DemoSettings | None = None
        # The tool it talks to is this host (loopback): the platform policy allows it.
        self.http = Fetcher(PLATFORM)
        self.keys = KeyStore(instance_dir(tool_config) / "keys")
        self._engine: Engine | None = None
        self._sessionmaker: sessionmaker[Session] | None = None
        self._ready = threading.Lock()
        self._tool_jwks: tuple[float, KeySet] | None = None
        self._jwks_lock = threading.Lock()
        self.hints = URLSafeTimedSerializer(
            derived_secret(tool_config), salt="demo-lms-message-hint"
        )

    @property
    def settings(self) -> DemoSettings:
        if self._settings is None:
            self._settings = DemoSettings.from_tool_config(self._tool_config)
        return self._settings

    # -- lazy set-up: a tool app that never serves the demo pays nothing -------------
    def ensure_ready(self) -> None:
        if self._sessionmaker is not None:
            return
        with self._ready:
            if self._sessionmaker is not None:
                return
            directory = self.settings.instance_dir
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.keys.ensure(KeyKind.RSA)
            engine = create_engine(f"sqlite:///{directory / 'demo-lms.db'}")
            event.listen(engine, "connect", _sqlite_pragmas)
            DemoBase.metadata.create_all(engine)
            maker = sessionmaker(engine, expire_on_commit=False)
            from lti_app.demo.seed import seed

            with maker() as session, session.begin():
                seed(session, self.settings)
            self._engine = engine
            self._sessionmaker = maker
            log.info("demo LMS ready", extra={"issuer": self.settings.issuer})

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        self.ensure_ready()
        assert self._sessionmaker is not None
        with self._sessionmaker() as session, session.begin():
            yield session

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    # -- our signatures ----------------------------------------------------------------
    def public_jwks(self) -> dict[str, Any]:
        self.ensure_ready()
        return self.keys.public_jwks(KeyKind.RSA)

    def sign(self, claims: Mapping[str, Any]) -> str:
        self.ensure_ready()
        record = self.keys.active(KeyKind.RSA)
        private = self.keys.private_key(record.kid)
        assert isinstance(private, rsa.RSAPrivateKey)  # the active RSA key
        key = RSAKey.import_key(private)
        now = int(time.time())
        body = {"iat": now, "exp": now + TOKEN_LIFETIME, **claims}
        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": record.kid}, body, key)

    # -- the tool's signatures -----------------------------------------------------------
    def _fetch_tool_jwks(self) -> KeySet:
        url = self.settings.tool_jwks_url
        try:
            response = self.http.fetch("GET", url, headers={"Accept": "application/json"})
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            keyset = KeySet.import_key_set(response.json())
        except (OutboundError, OutboundBusy, ValueError, JoseError) as exc:
            raise DemoError(
                f"could not read the tool's JWKS at {url}: {type(exc).__name__}",
                status=502,
                code="invalid_client",
            ) from exc
        self._tool_jwks = (time.monotonic(), keyset)
        return keyset

    def tool_keyset(self, kid: str | None) -> KeySet:
        with self._jwks_lock:
            cached = self._tool_jwks
            fresh = cached is not None and time.monotonic() - cached[0] < JWKS_CACHE_SECONDS
            if cached is not None and fresh and _has_kid(cached[1], kid):
                return cached[1]
            return self._fetch_tool_jwks()

    def verify_tool_jwt(
        self, token: str, *, audience: str | tuple[str, ...], what: str
    ) -> dict[str, Any]:
        """Verify a JWT the tool signed; DemoError saying what is wrong otherwise."""
        kid = _unverified_kid(token)
        if not kid:
            raise DemoError(f"{what}: the JWT header has no kid", code="invalid_client")
        keyset = self.tool_keyset(kid)
        try:
            decoded = jwt.decode(token, keyset, algorithms=["RS256"])
        except (JoseError, ValueError) as exc:
            raise DemoError(
                f"{what}: signature not valid for the tool's keys ({type(exc).__name__})",
                code="invalid_client",
            ) from exc
        claims = dict(decoded.claims)
        client_id = self.settings.client_id
        if claims.get("iss") != client_id:
            raise DemoError(
                f"{what}: iss must be the client_id {client_id!r}", code="invalid_client"
            )
        allowed = (audience,) if isinstance(audience, str) else audience
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if not any(a in allowed for a in auds):
            raise DemoError(
                f"{what}: aud must be one of {', '.join(allowed)}", code="invalid_client"
            )
        now = time.time()
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp + LEEWAY < now:
            raise DemoError(f"{what}: the JWT has expired or has no exp", code="invalid_client")
        iat = claims.get("iat")
        if isinstance(iat, int | float) and iat - LEEWAY > now:
            raise DemoError(f"{what}: the JWT was issued in the future", code="invalid_client")
        return claims

    # -- message hints: signed, so /auth knows what the launch is for -----------------
    def make_hint(self, data: Mapping[str, Any]) -> str:
        return self.hints.dumps(dict(data) | {"n": secrets.token_urlsafe(8)})

    def read_hint(self, hint: str, max_age: int = 600) -> dict[str, Any]:
        try:
            value = self.hints.loads(hint, max_age=max_age)
        except BadSignature as exc:
            raise DemoError(
                "lti_message_hint is not one this platform issued, or it is older than "
                f"{max_age // 60} minutes"
            ) from exc
        if not isinstance(value, dict):
            raise DemoError("lti_message_hint is malformed")
        return value


def _has_kid(keyset: KeySet, kid: str | None) -> bool:
    return kid is not None and any(k.kid == kid for k in keyset.keys)


def _unverified_kid(token: str) -> str | None:
    """The kid of a compact JWS header, read before choosing the key to verify it."""
    try:
        head = token.split(".", 1)[0]
        data = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, IndexError):
        return None
    kid = data.get("kid") if isinstance(data, dict) else None
    return kid if isinstance(kid, str) else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
