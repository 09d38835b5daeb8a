"""The learner's pages (``/s/<ls>/checklist``): progress, requests for sign-off, credentials.

Learners see only their own records: every query is keyed on the launch's user.
"""

from __future__ import annotations

import uuid

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from lti_app import request_db
from lti_app.auth import current_actor, launch_blueprint
from lti_app.errors import AppError, Forbidden, NotFound
from lti_app.services import checklists, signoff_requests
from lti_app.views import checklist_pages as pages

bp = launch_blueprint("learner", __name__)
bp.context_processor(pages.nav_context)


def _learner() -> int:
    actor = current_actor()
    if not actor.is_learner or actor.context_id is None:
        raise Forbidden(gettext("Only the course's learners have a checklist here."))
    return actor.user_id


@bp.get("/checklist")
def checklist() -> str:
    learner_id = _learner()
    scope = pages.scope()
    view = checklists.checklist(request_db.session(), scope, learner_id)
    return render_template("checklists/learner.html", scope=scope, checklist=view)


def _request_page(
    scope: checklists.Scope, column: checklists.Column, error: str | None = None, status: int = 200
) -> tuple[str, int]:
    html = render_template(
        "checklists/request_form.html",
        scope=scope,
        column=column,
        level=scope.level_of(column.id),
        error=error,
        form=request.form if request.method == "POST" else {},
        limit_mb=signoff_requests.FILE_LIMIT // (1024 * 1024),
        text_limit=signoff_requests.TEXT_LIMIT,
    )
    return html, status


@bp.route("/checklist/<uuid:statement_id>/request", methods=["GET", "POST"])
def request_signoff(statement_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    learner_id = _learner()
    scope = pages.scope()
    column = scope.by_id.get(statement_id)
    if column is None:
        raise NotFound(gettext("This statement is not part of your checklist."))
    if request.method == "GET":
        return _request_page(scope, column)
    upload = request.files.get("file")
    evidence_file = None
    if upload is not None and upload.filename:
        # Read one byte past the limit: enough to refuse a large file without holding it all.
        data = upload.stream.read(signoff_requests.FILE_LIMIT + 1)
        evidence_file = signoff_requests.EvidenceFile(name=upload.filename, data=data)
    try:
        signoff_requests.create(
            request_db.session(),
            learner_id=learner_id,
            context_id=scope.context_id,
            statement_id=statement_id,
            text=request.form.get("text", ""),
            url=request.form.get("url"),
            file=evidence_file,
            allowed_statements=scope.statement_ids,
        )
    except AppError as exc:
        return _request_page(scope, column, error=pages.message(exc), status=exc.status)
    flash(
        gettext("Your request for %(code)s was sent to your instructors.", code=column.code),
        "success",
    )
    return redirect(url_for(".checklist", _anchor=f"st-{column.id}"), 303)


@bp.post("/checklist/requests/<dbid:request_id>/withdraw")
def withdraw(request_id: int) -> BaseResponse:
    learner_id = _learner()
    try:
        signoff_requests.withdraw(
            request_db.session(), learner_id=learner_id, request_id=request_id
        )
    except AppError as exc:
        if exc.status == 404:
            raise
        pages.flash_error(exc)
        # The refusal is the answer; nothing was changed, so nothing to roll back.
        return redirect(url_for(".checklist"), 303)
    flash(gettext("Your request was withdrawn."), "success")
    return redirect(url_for(".checklist"), 303)


@bp.get("/evidence/<dbid:request_id>")
def evidence_file(request_id: int) -> Response:
    """A request's file, for its learner and the course's staff; always as a download."""
    actor = current_actor()
    if actor.context_id is None:
        raise NotFound(gettext("There is no such file."))
    try:
        found = signoff_requests.evidence_file(
            request_db.session(),
            request_id=request_id,
            context_id=actor.context_id,
            viewer_id=actor.user_id,
        )
    except AppError as exc:
        raise NotFound(pages.message(exc)) from None
    response = Response(found.evidence_file, mimetype=found.evidence_file_type)
    response.headers.set(
        "Content-Disposition", "attachment", filename=found.evidence_file_name or "evidence"
    )
    # A file from a learner is never run as a page of ours, even if a browser tried.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
