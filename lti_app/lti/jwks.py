"""Platform public keys: fetched with a timeout, cached, refetched once on an unknown kid.

pylti1p3 2.0.0 fetches the platform JWKS on every launch with no timeout, and
its optional cache never refetches, so a platform's key rotation breaks every
launch until the cache expires (docs/architecture.md §4). This cache lives in process
memory (it is a cache: every process can rebuild it) and is shared by the
app's request threads.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from joserfc.jwk import RSAKey

from lti_app.lti import http

log = logging.getLogger("skillsign.lti.jwks")

JWKS_TTL = 3600.0  # seconds a fetched key set is trusted without asking again
# An unknown kid triggers one refetch; more refetches of the same URL wait this
# long, so a flood of made-up kids cannot turn us into a load on the platform.
REFETCH_COOLDOWN = 10.0


class KeySetError(Exception):
    """The platform's key set could not be had, or holds no key for the token."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Entry:
    keys: dict[str, RSAKey]
    fetched_at: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_forced: float = float("-inf")


def _import_keys(document: Any, url: str) -> dict[str, RSAKey]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeySetError("lti.jwks_invalid", f"the platform key set at {url} has no 'keys' list")
    found: dict[str, RSAKey] = {}
    for item in document["keys"]:
        if not isinstance(item, dict) or item.get("kty") != "RSA" or item.get("use") == "enc":
            continue  # only RSA signing keys can verify an LTI id_token
        kid = item.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            found[kid] = RSAKey.import_key(item)
        except (ValueError, TypeError):
            log.warning("skipped an unreadable key", extra={"url": url, "kid": kid})
    return found


class PlatformKeyCache:
    def __init__(self, ttl: float = JWKS_TTL, refetch_cooldown: float = REFETCH_COOLDOWN) -> None:
        self.ttl = ttl
        self.refetch_cooldown = refetch_cooldown
        self._entries: dict[str, _Entry] = {}
        self._guard = threading.Lock()
        self.fetches = 0  # for tests and the benchmark

    def _entry(self, url: str) -> _Entry:
        with self._guard:
            entry = self._entries.get(url)
            if entry is None:
                entry = self._entries[url] = _Entry(keys={}, fetched_at=float("-inf"))
            return entry

    def _fetch(self, url: str) -> dict[str, RSAKey]:
        self.fetches += 1
        try:
            document = http.request_json("GET", url, headers={"Accept": "application/json"})
        except http.OutboundError as exc:
            raise KeySetError(
                "lti.jwks_unavailable", f"could not fetch the platform key set {url}: {exc}"
            ) from exc
        return _import_keys(document, url)

    def key(self, url: str, kid: str) -> RSAKey:
        """The platform key with this kid, fetching or refetching the set as needed."""
        entry = self._entry(url)
        now = time.monotonic()
        key = entry.keys.get(kid) if now - entry.fetched_at < self.ttl else None
        if key is not None:
            return key
        # One thread fetches while the others of a launch storm wait for its answer.
        with entry.lock:
            now = time.monotonic()
            if now - entry.fetched_at >= self.ttl:
                entry.keys, entry.fetched_at = self._fetch(url), now
            elif kid not in entry.keys and now - entry.last_forced >= self.refetch_cooldown:
                # An unknown kid: the platform may have rotated its key. Ask once.
                entry.last_forced = now
                entry.keys, entry.fetched_at = self._fetch(url), now
                log.info("platform key set refetched for an unknown kid", extra={"url": url})
            key = entry.keys.get(kid)
        if key is None:
            raise KeySetError(
                "lti.unknown_kid",
                f"the id_token was signed with key id {kid!r}, which the platform does not "
                f"publish at {url}",
            )
        return key

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()


def init_app(app: Flask) -> None:
    app.extensions["skillsign.platform_keys"] = PlatformKeyCache()


def platform_keys() -> PlatformKeyCache:
    return current_app.extensions["skillsign.platform_keys"]
