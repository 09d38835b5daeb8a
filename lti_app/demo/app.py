"""The demo LMS as a Flask app of its own, mounted into the tool at ``/demo-lms``.

It is a separate app on purpose: a platform and a tool share nothing but HTTP.
Two Flask apps on 127.0.0.1 share cookies whatever the port (docs/architecture.md §4), so
it has its own session cookie name and path, and a secret derived apart from
the tool's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import Babel, get_locale
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from lti_app.config import PRODUCTION
from lti_app.demo import oidc, pages, services
from lti_app.demo.platform import MOUNT_PATH, DemoError, DemoPlatform, derived_secret
from lti_app.i18n import LANGUAGES
from lti_app.ids import DbIdConverter

DEMO_ENVS = frozenset({"development", "demo", "test"})
SESSION_COOKIE = "skillsign_demo_lms_session"
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # lti_app/: templates, static, translations


def _refuse_production(config: Mapping[str, Any]) -> None:
    env = config.get("ENV")
    if env == PRODUCTION or env not in DEMO_ENVS:
        raise RuntimeError(
            f"the demo LMS runs only in {', '.join(sorted(DEMO_ENVS))} (SKILLSIGN_ENV is {env!r})"
        )


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/token"))


def create_demo_lms(tool_config: Mapping[str, Any]) -> Flask:
    """Build the demo LMS for a tool configured by ``tool_config`` (never production)."""
    _refuse_production(tool_config)
    app = Flask(
        "lti_app.demo",
        root_path=str(_PACKAGE_ROOT),
        template_folder="templates",
        static_folder="static",
    )
    app.config.update(
        SECRET_KEY=derived_secret(tool_config),
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_PATH=MOUNT_PATH,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=1024 * 1024,
        TESTING=bool(tool_config.get("TESTING")),
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session; a page left open still works
    )
    platform = DemoPlatform(tool_config)
    app.extensions["demo_lms.platform"] = platform
    _register_blueprints(app)
    _register_error_handlers(app)
    _register_hooks(app, platform)
    return app


def _register_blueprints(app: Flask) -> None:
    Babel(
        app,
        locale_selector=lambda: request.accept_languages.best_match(LANGUAGES) or "en",
    )
    csrf = CSRFProtect(app)
    # Machine endpoints authenticate by signed JWT or bearer token, never by cookie.
    csrf.exempt(oidc.bp)
    csrf.exempt(services.bp)
    app.url_map.converters["dbid"] = DbIdConverter  # as in the tool: no id overflows SQLite
    app.register_blueprint(pages.bp)
    app.register_blueprint(oidc.bp)
    app.register_blueprint(services.bp)


def _error_response(status: int, error: str, description: str | None) -> Response:
    """An OAuth-style JSON error to machine endpoints, the error page to people."""
    if _wants_json():
        response = jsonify({"error": error, "error_description": description})
        response.status_code = status
        return response
    html = render_template("demo/error.html", status=status, detail=description)
    return Response(html, status=status, mimetype="text/html")


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DemoError)
    def _demo_error(exc: DemoError) -> Response:
        return _error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return _error_response(exc.code or 500, exc.name, exc.description)


def _register_hooks(app: Flask, platform: DemoPlatform) -> None:
    @app.before_request
    def _cookie_security() -> None:
        app.config["SESSION_COOKIE_SECURE"] = platform.settings.tool_base_url.startswith("https")

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {"current_locale": _locale()}

    @app.after_request
    def _headers(response: Response) -> Response:
        nonce = request.environ.get("demo_lms.script_nonce")
        script = f"'nonce-{nonce}'" if nonce else "'none'"
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src {script}; style-src 'self'; img-src 'self' data:; "
            f"form-action 'self' {platform.settings.tool_origin}; frame-ancestors 'none'; "
            "base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _locale() -> str:
    return str(get_locale() or "en")


def mount_demo_lms(app: Flask) -> Flask | None:
    """Serve the demo LMS at ``/demo-lms`` inside the tool, in the environments that allow it."""
    if app.config.get("ENV") not in DEMO_ENVS or app.config.get("DEMO_LMS") is False:
        return None
    demo = create_demo_lms(app.config)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {MOUNT_PATH: demo})  # type: ignore[method-assign]
    app.extensions["skillsign.demo_lms"] = demo
    return demo


def demo_platform(demo: Flask) -> DemoPlatform:
    return demo.extensions["demo_lms.platform"]
