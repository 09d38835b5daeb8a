"""Blueprints, registered in one place."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from lti_app.views.public import bp as public_bp

    app.register_blueprint(public_bp)
