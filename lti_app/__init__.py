"""skillsign's web layer: the only package that knows HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from lti_app import errors, i18n, ids, logs, lti, ratelimit, request_db
from lti_app.config import PRODUCTION, load_settings
from lti_app.db import Database
from lti_app.services import issuer


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides settings (tests pass DATABASE_URL, ...)."""
    settings = load_settings(overrides=config)
    app = Flask(__name__, instance_path=settings["INSTANCE_DIR"], instance_relative_config=False)
    app.config.update(settings)
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # Flask's default is None (unlimited)
        app.config["MAX_CONTENT_LENGTH"] = 8 * 1024 * 1024
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    logs.configure(app.config["LOG_LEVEL"])
    if app.config["ENV"] != PRODUCTION:  # the demo LMS at /demo-lms; never in production
        from lti_app.demo import mount_demo_lms

        mount_demo_lms(app)
    if app.config["PROXY_FIX"]:
        hops = app.config["PROXY_FIX"]
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's way to add middleware
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )

    app.extensions["skillsign.db"] = Database(app.config["DATABASE_URL"])
    # Credential issuing settings travel with the database's sessions (services stay Flask-free).
    issuer.bind(app.extensions["skillsign.db"], issuer.IssuerContext.from_settings(app.config))
    request_db.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    lti.init_app(app)
    ids.init_app(app)  # before the blueprints: their rules use <dbid:...>

    from lti_app.views import register_blueprints

    register_blueprints(app)
    ratelimit.init_app(app)  # after the blueprints: it limits their endpoints

    from lti_app.cli import register_commands

    register_commands(app)
    return app
