"""Domain errors: raised by services, mapped to HTTP in one place (lti_app/errors.py).

No Flask here, so the CLI and the worker raise and catch the same classes.
"""

from __future__ import annotations


class AppError(Exception):
    """A failure the user should be told about, with an HTTP status."""

    status = 400
    title = "Bad request"
    code: str | None = None

    def __init__(self, detail: str, *, status: int | None = None, title: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title


class NotFound(AppError):
    status = 404
    title = "Not found"


class Forbidden(AppError):
    status = 403
    title = "Not allowed"


class Conflict(AppError):
    status = 409
    title = "Conflict"
