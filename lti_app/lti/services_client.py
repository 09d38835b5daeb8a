"""Outbound LTI Advantage service calls: OAuth2 tokens, NRPS and AGS.

The tool authenticates to a platform's token endpoint with the OAuth2
client-credentials grant and a JWT client assertion signed by its own RSA key
(1EdTech Security Framework 1.0, section 4.1). pylti1p3 asks for a new token on
every call and has no timeouts; here tokens are cached per (platform, scope
set) until shortly before they expire, every call goes through lti_app.outbound
(policy PLATFORM, one deadline per call, a byte cap), a 401 gets one fresh
token and one retry, and NRPS/AGS pages are followed through the
``Link: <...>; rel="next"`` header.
"""

from __future__ import annotations

import json as jsonlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

from keys import KeyKind, KeyStore
from lti_app.outbound import (
    DEFAULT_DEADLINE,
    PLATFORM,
    Fetcher,
    OutboundBusy,
    OutboundError,
    Response,
    Timeout,
    as_deadline,
)

log = logging.getLogger("skillsign.lti.services")


SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

MEDIA_SCORE = "application/vnd.ims.lis.v1.score+json"
MEDIA_LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_LINEITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MEDIA_RESULTS = "application/vnd.ims.lis.v2.resultcontainer+json"
MEDIA_MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# A platform that pages forever (or loops) must not keep a worker busy.
MAX_PAGES = 1000
# Seconds for one whole call (a legacy (connect, read) pair is accepted: see as_deadline).
TIMEOUT: float = DEFAULT_DEADLINE
# Moodle sends a whole roster as one page; 32 MB is ~80,000 members, and still a bound.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


class ServiceError(Exception):
    """A service call failed. ``status`` is None when no HTTP answer came back."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.status = status
        self.body = body[:2000]
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """Worth retrying later: no answer, throttling, or a server-side failure."""
        return self.status is None or self.status in (408, 425, 429) or self.status >= 500

    def __str__(self) -> str:
        where = f"{self.status} from {self.url}" if self.status else self.url
        return f"{self.message} ({where})"


@dataclass(frozen=True, slots=True)
class PlatformCredentials:
    """What the tool needs to get tokens from one platform registration."""

    issuer: str
    client_id: str
    token_url: str
    # The ``aud`` of the client assertion: the platform's declared audience, else its token URL.
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
        self._tokens: dict[tuple[str, str, frozenset[str]], _CachedToken] = {}
        self._lock = threading.Lock()
        # One lock per key, so two threads needing the same token make one request.
        self._fetch_locks: dict[tuple[str, str, frozenset[str]], threading.Lock] = {}

    @staticmethod
    def key(creds: PlatformCredentials, scopes: Iterable[str]) -> tuple[str, str, frozenset[str]]:
        return (creds.token_url, creds.client_id, frozenset(scopes))

    def get(self, key: tuple[str, str, frozenset[str]]) -> str | None:
        with self._lock:
            cached = self._tokens.get(key)
            if cached is None:
                return None
            if self._clock() >= cached.expires_at:
                del self._tokens[key]
                return None
            return cached.value

    def put(self, key: tuple[str, str, frozenset[str]], value: str, expires_in: float) -> None:
        # Renew a little early (10% of the lifetime, at most a minute) so a token
        # never expires between the cache check and the platform reading it.
        margin = min(60.0, expires_in * 0.1)
        with self._lock:
            self._tokens[key] = _CachedToken(value, self._clock() + max(0.0, expires_in - margin))

    def invalidate(self, key: tuple[str, str, frozenset[str]]) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def fetch_lock(self, key: tuple[str, str, frozenset[str]]) -> threading.Lock:
        with self._lock:
            return self._fetch_locks.setdefault(key, threading.Lock())

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


# One cache per process, shared by the worker threads and the web requests.
TOKENS = AccessTokenCache()


def service_url(resource_url: str, suffix: str) -> str:
    """``/scores`` or ``/results`` of a line item URL, keeping its query string.

    Moodle's line item URLs carry ``?type_id=N``; the AGS spec says the path
    gets the suffix, so a naive ``url + "/scores"`` would break them.
    """
    parts = urlsplit(resource_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


class ServicesClient:
    """LTI Advantage calls to one platform, authenticated as the tool."""

    def __init__(
        self,
        creds: PlatformCredentials,
        keys: KeyStore,
        *,
        http: Fetcher | None = None,
        tokens: AccessTokenCache | None = None,
        timeout: Timeout = TIMEOUT,
    ) -> None:
        self.creds = creds
        self.keys = keys
        self.http = http or Fetcher(PLATFORM)
        self.tokens = tokens if tokens is not None else TOKENS
        self.deadline = as_deadline(timeout)

    # -- OAuth2 --------------------------------------------------------------
    def client_assertion(self) -> str:
        """A short-lived JWT proving the tool's identity (private_key_jwt)."""
        # ensure(): a tool whose RSA key was never made still gets one, not a 500.
        record = self.keys.ensure(KeyKind.RSA)
        key = RSAKey.import_key(self.keys.private_key(record.kid))
        now = int(time.time())
        claims = {
            "iss": self.creds.client_id,
            "sub": self.creds.client_id,
            "aud": self.creds.assertion_audience,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(24),  # platforms may refuse a replayed assertion
        }
        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": record.kid}, claims, key)

    def access_token(self, scopes: Iterable[str]) -> str:
        scope_set = frozenset(scopes)
        if not scope_set:
            raise ValueError("an access token needs at least one scope")
        key = AccessTokenCache.key(self.creds, scope_set)
        token = self.tokens.get(key)
        if token is not None:
            return token
        with self.tokens.fetch_lock(key):
            token = self.tokens.get(key)  # another thread may have fetched it meanwhile
            if token is not None:
                return token
            token, expires_in = self._request_token(scope_set)
            self.tokens.put(key, token, expires_in)
            return token

    def _request_token(self, scopes: frozenset[str]) -> tuple[str, float]:
        url = self.creds.token_url
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": self.client_assertion(),
            "scope": " ".join(sorted(scopes)),
        }
        response = self._send(
            "POST",
            url,
            headers={
                "Accept": "application/json",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            body=urlencode(form).encode("ascii"),
        )
        if response.status != 200:
            raise _error_from(response, "the platform refused an access token")
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
            expires_in = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            expires_in = 3600.0
        return token, expires_in

    # -- HTTP ----------------------------------------------------------------
    def _send(
        self, method: str, url: str, *, headers: dict[str, str], body: bytes | None = None
    ) -> Response:
        started = time.perf_counter()
        try:
            response = self.http.fetch(
                method,
                url,
                headers=headers,
                body=body,
                deadline=self.deadline,
                max_bytes=MAX_ANSWER_BYTES,
            )
        except (OutboundError, OutboundBusy) as exc:
            log.warning(
                "lti service call failed",
                extra={"method": method, "url": url, "error": exc.message},
            )
            # No status: transient, so the outbox tries again later (a full bulkhead too).
            raise ServiceError(f"no answer: {exc.message}", url=url) from exc
        log.info(
            "lti service call",
            extra={
                "method": method,
                "url": url,
                "status": response.status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response

    def call(
        self,
        method: str,
        url: str,
        *,
        scopes: Iterable[str],
        accept: str,
        json: Any = None,
        content_type: str | None = None,
        params: dict[str, str] | None = None,
    ) -> Response:
        """An authenticated call; a 2xx answer or a ServiceError."""
        scope_set = frozenset(scopes)
        headers = {"Accept": accept}
        body = None
        if json is not None:
            body = jsonlib.dumps(json).encode("utf-8")
            headers["Content-Type"] = content_type or "application/json"
        elif content_type:
            headers["Content-Type"] = content_type
        if params:
            url = f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params)}"
        for attempt in (1, 2):
            token = self.access_token(scope_set)
            response = self._send(
                method, url, headers=headers | {"Authorization": f"Bearer {token}"}, body=body
            )
            if response.status == 401 and attempt == 1:
                # Revoked or expired early (platform restart, clock skew): one fresh token.
                self.tokens.invalidate(AccessTokenCache.key(self.creds, scope_set))
                continue
            if 200 <= response.status < 300:
                return response
            raise _error_from(response, f"{method} refused")
        raise AssertionError("unreachable")

    def _pages(
        self, url: str, *, scopes: Iterable[str], accept: str, params: dict[str, str] | None
    ) -> Iterator[Any]:
        """Each page's JSON body, following ``Link: rel="next"``."""
        seen: set[str] = set()
        next_url: str | None = url
        first = True
        while next_url:
            if next_url in seen or len(seen) >= MAX_PAGES:
                raise ServiceError("paging does not end", url=next_url)
            seen.add(next_url)
            response = self.call(
                "GET", next_url, scopes=scopes, accept=accept, params=params if first else None
            )
            first = False
            yield _json_body(response)
            next_url = response.links.get("next", {}).get("url")

    # -- NRPS ----------------------------------------------------------------
    def memberships(
        self, memberships_url: str, *, role: str | None = None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every member of the context, page after page."""
        params: dict[str, str] = {}
        if role:
            params["role"] = role
        if limit:
            params["limit"] = str(limit)
        for body in self._pages(
            memberships_url, scopes=[SCOPE_NRPS], accept=MEDIA_MEMBERSHIPS, params=params or None
        ):
            members = body.get("members") if isinstance(body, dict) else None
            if not isinstance(members, list):
                raise ServiceError("membership container has no members list", url=memberships_url)
            yield from (m for m in members if isinstance(m, dict))

    # -- AGS -----------------------------------------------------------------
    def lineitems(
        self,
        lineitems_url: str,
        *,
        scopes: Iterable[str],
        resource_link_id: str | None = None,
        tag: str | None = None,
        resource_id: str | None = None,
    ) -> list[dict[str, Any]]:
        params = {
            k: v
            for k, v in (
                ("resource_link_id", resource_link_id),
                ("tag", tag),
                ("resource_id", resource_id),
            )
            if v
        }
        items: list[dict[str, Any]] = []
        for body in self._pages(
            lineitems_url, scopes=scopes, accept=MEDIA_LINEITEMS, params=params or None
        ):
            if not isinstance(body, list):
                raise ServiceError("line item container is not a list", url=lineitems_url)
            items.extend(item for item in body if isinstance(item, dict))
        return items

    def create_lineitem(
        self, lineitems_url: str, lineitem: dict[str, Any], *, scopes: Iterable[str]
    ) -> dict[str, Any]:
        response = self.call(
            "POST",
            lineitems_url,
            scopes=scopes,
            accept=MEDIA_LINEITEM,
            content_type=MEDIA_LINEITEM,
            json=lineitem,
        )
        created = _json_body(response)
        if not isinstance(created, dict) or not isinstance(created.get("id"), str):
            raise ServiceError("created line item has no id", url=lineitems_url)
        return created

    def ensure_lineitem(
        self,
        lineitems_url: str,
        *,
        scopes: Iterable[str],
        resource_link_id: str,
        label: str,
        score_maximum: float,
        tag: str,
        resource_id: str | None = None,
    ) -> str:
        """The URL of the link's line item (ours, by tag), created when missing."""
        scope_set = frozenset(scopes)
        for item in self.lineitems(
            lineitems_url, scopes=scope_set, resource_link_id=resource_link_id, tag=tag
        ):
            # Platforms may ignore the filters: check them ourselves.
            if item.get("resourceLinkId") == resource_link_id and item.get("tag") == tag:
                return str(item["id"])
        lineitem: dict[str, Any] = {
            "label": label,
            "scoreMaximum": score_maximum,
            "resourceLinkId": resource_link_id,
            "tag": tag,
        }
        if resource_id:
            lineitem["resourceId"] = resource_id
        return str(self.create_lineitem(lineitems_url, lineitem, scopes=scope_set)["id"])

    def post_score(
        self, lineitem_url: str, score: dict[str, Any], *, scopes: Iterable[str]
    ) -> None:
        """POST a score. Idempotent: the same body (same timestamp) twice changes nothing."""
        self.call(
            "POST",
            service_url(lineitem_url, "/scores"),
            scopes=scopes,
            accept="application/json",
            content_type=MEDIA_SCORE,
            json=score,
        )

    def results(
        self, lineitem_url: str, *, scopes: Iterable[str], user_id: str | None = None
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        params = {"user_id": user_id} if user_id else None
        for body in self._pages(
            service_url(lineitem_url, "/results"),
            scopes=scopes,
            accept=MEDIA_RESULTS,
            params=params,
        ):
            if not isinstance(body, list):
                raise ServiceError("result container is not a list", url=lineitem_url)
            out.extend(r for r in body if isinstance(r, dict))
        return out


def _json_body(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ServiceError("answer is not JSON", url=response.url, status=response.status) from None


def _retry_after(response: Response) -> float | None:
    value = response.header("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from LMSs; the normal backoff applies


def _error_from(response: Response, message: str) -> ServiceError:
    return ServiceError(
        message,
        url=response.url,
        status=response.status,
        body=response.text,
        retry_after=_retry_after(response),
    )
