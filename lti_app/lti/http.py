"""Outbound HTTP: one place where every call to a platform gets a timeout.

pylti1p3 calls ``requests`` with no timeout (docs/architecture.md §4), so one slow LMS could
hold a request thread forever. Everything the tool sends out (platform JWKS,
dynamic registration, service calls) goes through ``client()``, whose session
puts ``TIMEOUT`` on every request that does not bring a shorter one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import requests
from flask import Flask, current_app

# (connect, read) seconds.
TIMEOUT: tuple[float, float] = (3.05, 10)
# Bodies we parse (JWKS, OpenID configurations, registrations) are small; a
# larger answer is a misconfigured or hostile server.
MAX_JSON_BYTES = 1024 * 1024
USER_AGENT = "skillsign-lti-tool/0.1"

log = logging.getLogger("skillsign.outbound")


class OutboundError(Exception):
    """A call to another server failed; the message says which URL and why."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.status = status


class TimeoutSession(requests.Session):
    """A ``requests.Session`` that never waits without a limit."""

    def __init__(self, timeout: tuple[float, float] = TIMEOUT) -> None:
        super().__init__()
        self.default_timeout = timeout
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


def init_app(app: Flask) -> None:
    app.extensions["skillsign.http"] = TimeoutSession()


def client(app: Flask | None = None) -> requests.Session:
    """The app's outbound session (connection pooling, timeouts)."""
    return (app or current_app).extensions["skillsign.http"]


def _read_limited(response: requests.Response, url: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_JSON_BYTES:
            raise OutboundError(f"answer larger than {MAX_JSON_BYTES} bytes", url=url)
        chunks.append(chunk)
    return b"".join(chunks)


def request_json(
    method: str,
    url: str,
    *,
    session: requests.Session | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    expect: tuple[int, ...] = (200,),
    allow_redirects: bool = True,
) -> Any:
    """Send a request and return the decoded JSON answer, or raise ``OutboundError``."""
    http = session or client()
    try:
        response = http.request(
            method,
            url,
            headers=dict(headers or {}),
            json=json_body,
            stream=True,
            allow_redirects=allow_redirects,
        )
    except requests.Timeout as exc:
        raise OutboundError(f"no answer within {TIMEOUT[1]} s", url=url) from exc
    except requests.RequestException as exc:
        raise OutboundError(f"could not connect ({type(exc).__name__})", url=url) from exc
    except ValueError as exc:  # a URL or header that cannot be sent (from a hostile document)
        raise OutboundError(f"could not send the request ({type(exc).__name__})", url=url) from exc
    with response:
        body = _read_limited(response, url)
        if response.status_code not in expect:
            # The body helps an admin see why a platform refused, but the message may
            # reach whoever called us (e.g. /lti/register with any URL): log it, never echo it.
            log.info(
                "outbound call refused",
                extra={
                    "url": url,
                    "status": response.status_code,
                    "body": body[:200].decode("utf-8", "replace"),
                },
            )
            raise OutboundError(
                f"answered HTTP {response.status_code}",
                url=url,
                status=response.status_code,
            )
    try:
        return json.loads(body)
    except ValueError as exc:
        raise OutboundError("answer is not JSON", url=url, status=response.status_code) from exc
