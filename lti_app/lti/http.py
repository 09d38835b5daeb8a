"""The app's outbound fetchers (lti_app.outbound), and JSON calls to platforms.

Each app has one bulkhead of ``SKILLSIGN_OUTBOUND_MAX_IN_FLIGHT`` slots (one app per
gunicorn worker process), shared by its two kinds of fetcher:

* ``client()``: policy ``PLATFORM`` (private addresses allowed) for dynamic registration,
  platform JWKS, tokens, AGS and NRPS: on-premises LMSs and the demo LMS live there.
* ``verifier()``: policy ``PUBLIC`` for verify-by-URL, DID documents and status lists. Only
  a test app may exempt networks from it (``VERIFY_FETCH_ALLOW``, never in production).

pylti1p3 gets a session that refuses to send anything (``pylti_session``): the launch code
fetches platform keys itself (lti_app/lti/jwks.py), so no request can bypass the above.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import requests
from flask import Flask, current_app

from lti_app.config import PRODUCTION, ConfigError
from lti_app.outbound import (
    DEFAULT_DEADLINE,
    PLATFORM,
    PUBLIC,
    Bulkhead,
    Fetcher,
    OutboundError,
)

__all__ = ["MAX_JSON_BYTES", "TIMEOUT", "OutboundError", "client", "request_json", "verifier"]

# Seconds for a whole call (connect, TLS, redirects, the complete answer).
TIMEOUT: float = DEFAULT_DEADLINE
# Bodies we parse (JWKS, OpenID configurations, registrations) are small; a
# larger answer is a misconfigured or hostile server.
MAX_JSON_BYTES = 1024 * 1024
USER_AGENT = "skillsign-lti-tool/0.1"

log = logging.getLogger("skillsign.outbound")


class _NoNetwork(requests.Session):
    """Given to pylti1p3, which would otherwise fetch with its own unchecked session."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        raise requests.RequestException(
            f"pylti1p3 may not fetch {url!r}: outbound calls go through lti_app.outbound"
        )


def init_app(app: Flask) -> None:
    # One bulkhead per app, i.e. per gunicorn worker process.
    app.extensions["skillsign.outbound"] = Bulkhead(app.config["OUTBOUND_MAX_IN_FLIGHT"])
    if app.config.get("VERIFY_FETCH_ALLOW") and app.config["ENV"] == PRODUCTION:
        raise ConfigError("VERIFY_FETCH_ALLOW is for tests; it is refused in production")


def _deadline(app: Flask) -> float:
    # OUTBOUND_DEADLINE: an app override (tests shorten it); not a public setting.
    return float(app.config.get("OUTBOUND_DEADLINE") or DEFAULT_DEADLINE)


def client(app: Flask | None = None) -> Fetcher:
    """The fetcher for calls to LTI platforms (policy PLATFORM)."""
    app = app or current_app
    return Fetcher(
        PLATFORM,
        bulkhead=app.extensions["skillsign.outbound"],
        deadline=_deadline(app),
        user_agent=USER_AGENT,
    )


def verifier() -> Fetcher:
    """The fetcher for what strangers can make us fetch (policy PUBLIC), read per call so a
    test may exempt its local servers after building the app."""
    app = current_app
    exempt = app.config.get("VERIFY_FETCH_ALLOW") or ()
    if exempt and app.config["ENV"] == PRODUCTION:
        raise ConfigError("VERIFY_FETCH_ALLOW is for tests; it is refused in production")
    return Fetcher(
        PUBLIC.with_exempt(exempt) if exempt else PUBLIC,
        bulkhead=app.extensions["skillsign.outbound"],
        deadline=_deadline(app),
        user_agent="skillsign-verifier/1",
    )


def pylti_session() -> requests.Session:
    return _NoNetwork()


def request_json(
    method: str,
    url: str,
    *,
    fetcher: Fetcher | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    expect: tuple[int, ...] = (200,),
    allow_redirects: bool = True,
) -> Any:
    """Send a request and return the decoded JSON answer, or raise ``OutboundError``
    (``OutboundBusy`` when the bulkhead is full)."""
    sent = dict(headers or {})
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode("utf-8")
        sent.setdefault("Content-Type", "application/json")
    response = (fetcher or client()).fetch(
        method,
        url,
        headers=sent,
        body=body,
        max_bytes=MAX_JSON_BYTES,
        redirects=None if allow_redirects else 0,
    )
    if response.status not in expect:
        # The body helps an admin see why a platform refused, but the message may
        # reach whoever called us (e.g. /lti/register with any URL): log it, never echo it.
        log.info(
            "outbound call refused",
            extra={
                "url": url,
                "status": response.status,
                "body": response.body[:200].decode("utf-8", "replace"),
            },
        )
        raise OutboundError(f"answered HTTP {response.status}", url=url, status=response.status)
    try:
        return response.json()
    except ValueError as exc:
        raise OutboundError("answer is not JSON", url=url, status=response.status) from exc
