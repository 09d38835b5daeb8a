"""Launch failures: one AppError with a stable code per cause and a sentence for people."""

from __future__ import annotations

from lti_app.errors import AppError

AGAIN = "Launch skillsign again from your course."


class LaunchError(AppError):
    """An LTI message was refused. ``code`` (e.g. ``lti.expired``) is for logs and tests."""

    status = 400
    title = "This launch could not be accepted"

    def __init__(self, code: str, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail, status=status)
        self.code = code
