"""Domain errors mapped to HTTP in one place: HTML for people, problem+json for APIs."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from lti_app.logs import redact_path
from lti_app.outbound import OutboundBusy
from lti_app.services.errors import AppError, Conflict, Forbidden, NotFound

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
    html = render_template("error.html", status=status, title=title, detail=detail)
    return Response(html, status=status, mimetype="text/html")


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
            exc.detail,
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
        return _respond(exc.code or 500, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _internal(exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": redact_path(request.path)})
        return _respond(
            500, "Something went wrong", "The error was logged. Please try again later."
        )
