"""Public pages that need no launch: the index and health checks."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from sqlalchemy import text

from lti_app import request_db
from lti_app.services import frameworks as framework_service

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    # Only what is published for everyone: a platform's own uploads are its business.
    versions = framework_service.list_versions(request_db.session(), scope=None)
    # The demo LMS is mounted beside the tool (never in production): the home page leads there.
    demo_url = None
    if "skillsign.demo_lms" in current_app.extensions:
        from lti_app.demo.platform import MOUNT_PATH

        demo_url = f"{request.script_root}{MOUNT_PATH}/"
    return render_template("index.html", versions=versions, demo_url=demo_url)


@bp.get("/healthz")
def healthz() -> Response:
    request_db.session().execute(text("SELECT 1"))
    return jsonify({"status": "ok"})
