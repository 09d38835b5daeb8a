"""Outbound HTTP: one URL parser, one address check, one way to fetch (no Flask here).

``urls``: the strict parser. ``policy``: which addresses a caller may reach. ``fetch``: the
fetcher, its deadline, byte cap, redirect handling and the per-process bulkhead.
"""

from lti_app.outbound.errors import (
    AddressRefused,
    AnswerTooLarge,
    BadURL,
    DeadlineExceeded,
    OutboundBusy,
    OutboundError,
    RedirectRefused,
)
from lti_app.outbound.fetch import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_IN_FLIGHT,
    PROCESS_BULKHEAD,
    Bulkhead,
    Fetcher,
    Response,
    Timeout,
    as_deadline,
)
from lti_app.outbound.policy import PLATFORM, PUBLIC, AddressPolicy
from lti_app.outbound.urls import SafeURL, parse_url

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_IN_FLIGHT",
    "PLATFORM",
    "PROCESS_BULKHEAD",
    "PUBLIC",
    "AddressPolicy",
    "AddressRefused",
    "AnswerTooLarge",
    "BadURL",
    "Bulkhead",
    "DeadlineExceeded",
    "Fetcher",
    "OutboundBusy",
    "OutboundError",
    "RedirectRefused",
    "Response",
    "SafeURL",
    "Timeout",
    "as_deadline",
    "parse_url",
]
