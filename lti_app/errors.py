"""Domain errors mapped to HTTP in one place: HTML for people, problem+json for APIs."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("skillsign.http")


class AppError(Exception):
    """A failure the user should be told about, with an HTTP status."""

    status = 400
    title = "Bad request"

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


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _respond(status: int, title: str, detail: str, code: str | None = None) -> Response:
    if _wants_json():
        body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
        if code:
            body["code"] = code
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
            extra={"status": exc.status, "reason": exc.detail, "path": request.path},
        )
        return _respond(exc.status, exc.title, exc.detail, getattr(exc, "code", None))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        if isinstance(exc, InternalServerError):
            return _internal(exc)
        return _respond(exc.code or 500, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _internal(exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.path})
        return _respond(
            500, "Something went wrong", "The error was logged. Please try again later."
        )
