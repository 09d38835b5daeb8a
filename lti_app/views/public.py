"""Public pages that need no launch: the index and health checks."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template
from sqlalchemy import text

from lti_app import request_db
from lti_app.services import frameworks as framework_service

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    # Only what is published for everyone: a platform's own uploads are its business.
    versions = framework_service.list_versions(request_db.session(), scope=None)
    return render_template("index.html", versions=versions)


@bp.get("/healthz")
def healthz() -> Response:
    request_db.session().execute(text("SELECT 1"))
    return jsonify({"status": "ok"})
