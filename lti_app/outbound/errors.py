"""What can go wrong with an outbound fetch, one class per reason.

Every message names the problem in words a person can act on; none of them echoes what a
remote server answered (that goes to the log only).
"""

from __future__ import annotations


class OutboundError(Exception):
    """A call to another server failed or was refused; the message says why."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.status = status


class BadURL(OutboundError):
    """The URL is not one we fetch: not http(s), or written in a way parsers may read
    differently (userinfo, backslashes, numeric hosts other than dotted quads, ...)."""


class AddressRefused(OutboundError):
    """The host resolves to an address the caller's policy does not allow."""


class RedirectRefused(OutboundError):
    """A redirect was answered where none are followed, or the chain is too long."""


class DeadlineExceeded(OutboundError):
    """No complete answer within the request's wall-clock deadline."""


class AnswerTooLarge(OutboundError):
    """The answer is larger than the caller's byte cap."""


class OutboundBusy(Exception):
    """Too many outbound fetches are in flight in this process (the bulkhead is full).

    Raised at once, before any network work; lti_app/errors.py turns it into 503 +
    Retry-After. Deliberately not an OutboundError: code that turns a failed fetch into
    "your URL is bad" (400) must not turn "we are busy" into that too.
    """

    def __init__(self, message: str, *, url: str = "", retry_after: int = 10) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.retry_after = retry_after
