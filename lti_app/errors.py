"""Domain errors mapped to HTTP in one place: HTML for people, problem+json for APIs."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import format_datetime, gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from lti_app.logs import redact_path
from lti_app.outbound import OutboundBusy
from lti_app.services.errors import AppError, Conflict, Forbidden, NotFound
from lti_app.services.messages import N_, UserError

__all__ = ["AppError", "Conflict", "Forbidden", "NotFound", "init_app"]

log = logging.getLogger("skillsign.http")


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _respond(
    status: int,
    title: str,
    detail: str,
    code: str | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response:
    if _wants_json():
        body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
        if code:
            body["code"] = code
        body.update(extensions or {})  # RFC 9457 extension members, e.g. which limit was hit
        response = jsonify(body)
        response.status_code = status
        response.mimetype = "application/problem+json"
        return response
    html = render_template(
        "error.html", status=status, title=_translated(title), detail=_translated(detail)
    )
    return Response(html, status=status, mimetype="text/html")


# Error titles and sentences that are not translated where they are raised: marked here for
# the catalogue, translated when the HTML page is made (problem+json and logs keep English).
_MARKED = (
    N_("Bad request"),
    N_("Not found"),
    N_("Not allowed"),
    N_("Conflict"),
    N_("Too large"),
    N_("Input over a limit"),
    N_("Not set up yet"),
    N_("Registration failed"),
    N_("This launch could not be accepted"),
    N_("Busy"),
    N_("Too many requests to other servers are under way; try again in a few seconds."),
    N_("Something went wrong"),
    N_("The error was logged. Please try again later."),
)
# Werkzeug's own errors (and Flask-WTF's CSRF refusals): our words, in the page's language.
_HTTP = {
    400: (N_("Bad request"), N_("The request could not be understood. Go back and try again.")),
    401: (N_("Not signed in"), N_("This page needs a launch from your course.")),
    403: (N_("Not allowed"), N_("You may not open this page.")),
    404: (N_("Not found"), N_("There is nothing at this address. Check it, or go back.")),
    405: (N_("Not allowed"), N_("This address does not accept that kind of request.")),
    413: (N_("Too large"), N_("What was sent is larger than this page accepts.")),
    429: (
        N_("Too many requests"),
        N_("Too many requests in a short time: wait a little and try again."),
    ),
}
_CSRF = (
    N_("The form expired"),
    N_(
        "The form could not be accepted: its security token (CSRF) is missing or expired, or "
        "it came from another page. Go back, reload the page and send it again."
    ),
)


def _translated(text: str) -> str:
    return gettext(text) if text else text


def _message(exc: AppError) -> str:
    """A domain error's sentence in the page's language where the code marked it."""
    if isinstance(exc, UserError):
        params = {
            k: format_datetime(v) if isinstance(v, datetime) else v for k, v in exc.params.items()
        }
        return gettext(exc.msgid, **params) if params else gettext(exc.msgid)
    return exc.detail


def init_app(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(exc: AppError) -> Response:
        log.info(
            "request refused",
            extra={
                "status": exc.status,
                "code": getattr(exc, "code", None),
                "reason": exc.detail,
                "path": redact_path(request.path),
            },
        )
        return _respond(
            exc.status,
            exc.title,
            exc.detail if _wants_json() else _message(exc),
            getattr(exc, "code", None),
            getattr(exc, "extensions", None),
        )

    @app.errorhandler(OutboundBusy)
    def _outbound_busy(exc: OutboundBusy) -> Response:
        # The bulkhead is full (verify by URL, /lti/register, ...): we are busy, the caller
        # did nothing wrong, and a slot frees within one fetch deadline.
        log.warning("outbound bulkhead full", extra={"path": redact_path(request.path)})
        response = _respond(
            503,
            "Busy",
            "Too many requests to other servers are under way; try again in a few seconds.",
            "outbound.busy",
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        if isinstance(exc, InternalServerError):
            return _internal(exc)
        status = exc.code or 500
        if _wants_json():
            return _respond(status, exc.name, exc.description or exc.name)
        title, detail = _CSRF if isinstance(exc, CSRFError) else _HTTP.get(status, (None, None))
        return _respond(status, title or exc.name, detail or exc.description or exc.name)

    @app.errorhandler(Exception)
    def _internal(exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": redact_path(request.path)})
        return _respond(
            500, "Something went wrong", "The error was logged. Please try again later."
        )
