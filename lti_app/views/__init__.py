"""Blueprints, registered in one place."""

from __future__ import annotations

from importlib import import_module

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from lti_app.views.landing import bp as launch_bp
    from lti_app.views.lti import bp as lti_bp
    from lti_app.views.public import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(lti_bp)
    app.register_blueprint(launch_bp)
    app.register_blueprint(import_module("lti_app.views.learner").bp)
    app.register_blueprint(import_module("lti_app.views.instructor").bp)
    app.register_blueprint(import_module("lti_app.views.admin").bp)
    app.register_blueprint(import_module("lti_app.views.credentials").bp)
    app.register_blueprint(import_module("lti_app.views.case").bp)
    app.register_blueprint(import_module("lti_app.views.verify").bp)
    app.register_blueprint(import_module("lti_app.views.oid4vci").bp)
    app.register_blueprint(import_module("lti_app.views.wallet_pages").bp)
    app.register_blueprint(import_module("lti_app.views.language").bp)
