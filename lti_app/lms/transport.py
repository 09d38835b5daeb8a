"""How LMS service calls reach the network: only through ``lti_app.outbound``.

One fetch per call with the caller's fetcher (policy PLATFORM, the app's bulkhead), one
deadline per call and a byte cap; every failure becomes a ``ServiceError`` whose
``transient`` tells the outbox whether to try again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from lti_app.outbound import (
    DEFAULT_DEADLINE,
    Fetcher,
    OutboundBusy,
    OutboundError,
    Response,
)

log = logging.getLogger("skillsign.lti.services")

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


def send(
    http: Fetcher,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: bytes | None,
    deadline: float,
) -> Response:
    """One request; any answer is returned, no answer is a transient ``ServiceError``."""
    started = time.perf_counter()
    try:
        response = http.fetch(
            method, url, headers=headers, body=body, deadline=deadline, max_bytes=MAX_ANSWER_BYTES
        )
    except (OutboundError, OutboundBusy) as exc:
        log.warning(
            "lti service call failed", extra={"method": method, "url": url, "error": exc.message}
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


def json_body(response: Response) -> Any:
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


def error_from(response: Response, message: str) -> ServiceError:
    return ServiceError(
        message,
        url=response.url,
        status=response.status,
        body=response.text,
        retry_after=_retry_after(response),
    )
