"""OAuth 2.0 access tokens for LTI Advantage services, and their cache.

The tool authenticates to a platform's token endpoint with the client-credentials grant
and a JWT client assertion signed by its own RSA key (private_key_jwt, RFC 7523; 1EdTech
Security Framework 1.0 §4.1). joserfc signs the assertion; the grant itself is one form
POST sent through ``lti_app.outbound`` (why no OAuth client library: docs/architecture.md §4).
Tokens are cached per (platform, scope set) until shortly before they expire.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey

from keys import KeyKind, KeyStore
from lti_app.lms.transport import ServiceError, error_from, send
from lti_app.outbound import Fetcher

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds; the assertion is used at once
DEFAULT_EXPIRES_IN = 3600.0  # RFC 6749 §5.1: expires_in is only RECOMMENDED

TokenKey = tuple[str, str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class PlatformCredentials:
    """What the tool needs to get tokens from one platform registration."""

    issuer: str
    client_id: str
    token_url: str
    # The ``aud`` of the client assertion: the platform's declared audience (Canvas's
    # differs from its token URL), else its token URL.
    audience: str | None = None

    @classmethod
    def from_platform(cls, platform: Any) -> PlatformCredentials:
        """From a ``lti_app.db.models.Platform`` row (duck-typed: no DB import here)."""
        return cls(
            issuer=platform.issuer,
            client_id=platform.client_id,
            token_url=platform.auth_token_url,
            audience=platform.auth_audience or None,
        )

    @property
    def assertion_audience(self) -> str:
        return self.audience or self.token_url


@dataclass(frozen=True, slots=True)
class _CachedToken:
    value: str
    expires_at: float  # monotonic clock


class AccessTokenCache:
    """Access tokens per (platform, scope set), kept until shortly before they expire.

    In process memory: a token is cheap to get again after a restart, and a
    shared store would put bearer tokens in the database.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[TokenKey, _CachedToken] = {}
        self._lock = threading.Lock()
        # One lock per key, so two threads needing the same token make one request.
        self._fetch_locks: dict[TokenKey, threading.Lock] = {}

    @staticmethod
    def key(creds: PlatformCredentials, scopes: Iterable[str]) -> TokenKey:
        return (creds.token_url, creds.client_id, frozenset(scopes))

    def get(self, key: TokenKey) -> str | None:
        with self._lock:
            cached = self._tokens.get(key)
            if cached is None:
                return None
            if self._clock() >= cached.expires_at:
                del self._tokens[key]
                return None
            return cached.value

    def put(self, key: TokenKey, value: str, expires_in: float) -> None:
        # Renew a little early (10% of the lifetime, at most a minute) so a token
        # never expires between the cache check and the platform reading it.
        margin = min(60.0, expires_in * 0.1)
        with self._lock:
            self._tokens[key] = _CachedToken(value, self._clock() + max(0.0, expires_in - margin))

    def invalidate(self, key: TokenKey) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def fetch_lock(self, key: TokenKey) -> threading.Lock:
        with self._lock:
            return self._fetch_locks.setdefault(key, threading.Lock())

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


# One cache per process, shared by the worker threads and the web requests.
TOKENS = AccessTokenCache()


def client_assertion(creds: PlatformCredentials, keys: KeyStore) -> str:
    """A short-lived JWT proving the tool's identity (private_key_jwt)."""
    # ensure(): a tool whose RSA key was never made still gets one, not a 500.
    record = keys.ensure(KeyKind.RSA)
    private = keys.private_key(record.kid)
    if not isinstance(private, rsa.RSAPrivateKey):  # ensure(KeyKind.RSA) makes RSA keys only
        raise TypeError(f"tool key {record.kid!r} is not an RSA key")
    key = RSAKey.import_key(private)
    now = int(time.time())
    claims = {
        "iss": creds.client_id,
        "sub": creds.client_id,
        "aud": creds.assertion_audience,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME,
        "jti": secrets.token_urlsafe(24),  # platforms may refuse a replayed assertion
    }
    return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": record.kid}, claims, key)


def request_token(
    http: Fetcher,
    creds: PlatformCredentials,
    keys: KeyStore,
    scopes: frozenset[str],
    *,
    deadline: float,
) -> tuple[str, float]:
    """A new access token and its lifetime in seconds, or a ``ServiceError``."""
    url = creds.token_url
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": client_assertion(creds, keys),
        "scope": " ".join(sorted(scopes)),
    }
    response = send(
        http,
        "POST",
        url,
        headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode(form).encode("ascii"),
        deadline=deadline,
    )
    if response.status != 200:
        raise error_from(response, "the platform refused an access token")
    try:
        body = response.json()
    except ValueError:
        raise ServiceError(
            "token endpoint answered with something other than JSON", url=url, status=200
        ) from None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise ServiceError("token response has no access_token", url=url, status=200)
    token_type = str(body.get("token_type", "bearer"))
    if token_type.lower() != "bearer":
        raise ServiceError(f"unsupported token_type {token_type!r}", url=url, status=200)
    try:
        expires_in = float(body.get("expires_in", DEFAULT_EXPIRES_IN))
    except (TypeError, ValueError):
        expires_in = DEFAULT_EXPIRES_IN
    return token, expires_in


def access_token(
    http: Fetcher,
    creds: PlatformCredentials,
    keys: KeyStore,
    scopes: Iterable[str],
    *,
    cache: AccessTokenCache,
    deadline: float,
) -> str:
    """A cached token for these scopes, or a new one (one request per key at a time)."""
    scope_set = frozenset(scopes)
    if not scope_set:
        raise ValueError("an access token needs at least one scope")
    key = AccessTokenCache.key(creds, scope_set)
    token = cache.get(key)
    if token is not None:
        return token
    with cache.fetch_lock(key):
        token = cache.get(key)  # another thread may have fetched it meanwhile
        if token is not None:
            return token
        token, expires_in = request_token(http, creds, keys, scope_set, deadline=deadline)
        cache.put(key, token, expires_in)
        return token
