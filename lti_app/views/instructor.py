"""The instructor's pages (``/s/<ls>/grid`` and around): the roster x statements grid,
single and bulk sign-off, undo, the requests queue, a learner's audit trail, the cohort.

Only instructors and TAs of the launch's course get here (``require_instructor``),
and the sign-off and request services check the membership again, whatever
the page sent. Bulk actions go through a confirmation page, so a stray click
signs nothing; the confirmation needs no JavaScript.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, format_datetime, gettext, ngettext
from werkzeug.wrappers import Response as BaseResponse

from keys import KeyStore
from lti_app import ids, request_db
from lti_app.auth import current_actor, launch_blueprint, require_instructor
from lti_app.db import utcnow
from lti_app.db.models import Context, SignoffRequest
from lti_app.errors import AppError, NotFound
from lti_app.lti import http as outbound
from lti_app.lti import storage
from lti_app.services import awarding, checklists, roster, signoff_requests, signoffs
from lti_app.views import bulk_plan
from lti_app.views import checklist_pages as pages

bp = launch_blueprint("instructor", __name__)
log = logging.getLogger("skillsign.checklists")
bp.context_processor(pages.nav_context)

GRID_ARGS = ("level", "status", "q", "page")
ROSTER_RETRY = timedelta(minutes=5)  # before the grid asks a failing platform again


def _grid_args(source: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {k: v for k, v in source if k in GRID_ARGS and v}


def _grid_url(args: dict[str, str] | None = None) -> str:
    return url_for(".grid", **(args or {}))  # type: ignore[arg-type]  # GRID_ARGS, none is _external


def _back() -> str:
    """Back to the grid as it was (filters, search, page) after a POST."""
    return _grid_url(_grid_args(parse_qsl(request.form.get("back", ""))))


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 7 else default


def _queue_roster_refresh() -> bool:
    """The grid's own view: a stale roster is refreshed by the worker, never by the page.

    The page shows what is known at once; a learner who never launched appears once the
    worker's sync (``roster.enqueue_sync``, the ``roster_sync`` outbox handler) has landed.
    The request is queued in the page's transaction, at most once per ROSTER_RETRY for a
    course (a row in ``lti_launch_data`` that every worker sees), so a platform that is slow
    or down is asked by the worker's retries, not by every view. True while a refresh is
    queued: the page says "refreshing".
    """
    context_id = current_actor().context_id
    db = request_db.session()
    context = db.get(Context, context_id) if context_id else None
    if context is None or not context.memberships_url:
        return False
    if roster.is_fresh(context, roster.DEFAULT_MAX_AGE):
        return False
    queued = f"roster-queued:{context.id}"
    if storage.get_value(db, queued) is None:
        roster.enqueue_sync(db, context.id)
        storage.put_value(db, queued, {}, ROSTER_RETRY)
    return True


def _refresh_roster(*, force: bool) -> None:
    """Read the course roster from the platform (NRPS) now: the instructor asked for it
    (the grid's button) and waits for the answer.

    Its own transaction: a platform that does not answer costs a notice, not the page.
    """
    context_id = current_actor().context_id
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with request_db.database().transaction() as db:
        context = db.get(Context, context_id) if context_id else None
        if context is None or not context.memberships_url:
            if force:
                flash(
                    gettext(
                        "This course offers no roster service: learners appear when they launch."
                    ),
                    "info",
                )
            return
        # A failure is remembered in the database, not in this process: every worker (and
        # host) then waits out the same ROSTER_RETRY instead of each asking the platform.
        failed = f"roster-failed:{context.id}"
        if not force and (
            roster.is_fresh(context, roster.DEFAULT_MAX_AGE)
            or storage.get_value(db, failed) is not None
        ):
            return
        try:
            result = roster.sync_roster(
                db, context, KeyStore(app.config["KEYS_DIR"]), force=True, http=outbound.client(app)
            )
        except roster.RosterUnavailable as exc:
            # A platform that fails is asked again after a while, not on every page.
            storage.put_value(db, failed, {}, ROSTER_RETRY)
            log.warning("roster not read", extra={"context_id": context_id, "reason": str(exc)})
            flash(
                gettext(
                    "The course roster could not be read from the platform; the grid shows the "
                    "learners who launched the activity."
                ),
                "info",
            )
            return
    if force:
        flash(
            ngettext(
                "The roster lists %(num)d person.",
                "The roster lists %(num)d people.",
                result.members,
            ),
            "success",
        )


@bp.post("/grid/roster")
@require_instructor
def refresh_roster() -> BaseResponse:
    _refresh_roster(force=True)
    return redirect(_back(), 303)


def _met_labels(view: checklists.Grid) -> dict[tuple[str, date], tuple[str, str]]:
    """What a met cell says (tooltip, screen reader text), made once per signer and day:
    a page has up to 50 x 40 cells, and most were signed in a few bulk actions."""
    labels: dict[tuple[str, date], tuple[str, str]] = {}
    for row in view.rows:
        for cell in row.cells:
            if cell.signed is None:
                continue
            key = (cell.signed.by, cell.signed.at.date())
            if key not in labels:
                day = format_date(key[1])
                labels[key] = (
                    gettext("Signed off by %(name)s on %(when)s", name=key[0], when=day),
                    gettext("Met, signed off by %(name)s on %(when)s", name=key[0], when=day),
                )
    return labels


@bp.get("/grid")
@require_instructor
def grid() -> str:
    refreshing = _queue_roster_refresh()
    scope = pages.scope()
    view = checklists.grid(
        request_db.session(),
        scope,
        level_key=request.args.get("level") or None,
        status=request.args.get("status", "all"),
        search=request.args.get("q", "")[:200],
        page=_int_arg("page", 1),
    )
    args = _grid_args(request.args.items())
    return render_template(
        "checklists/grid.html",
        scope=scope,
        grid=view,
        met_labels=_met_labels(view),
        select_all=request.args.get("select") == "all",
        back=urlencode(args),
        args=args,
        roster_refreshing=refreshing,
    )


# -- bulk sign-off: choose, confirm, sign ----------------------------------------------
def _course_learners(learner_ids: Iterable[int]) -> None:
    """404 for anyone who is not a learner of this course: a form names no one else."""
    try:
        signoffs.course_learner_ids(
            request_db.session(), current_actor().context_id or 0, learner_ids
        )
    except AppError:
        raise NotFound(gettext("There is no such learner in this course.")) from None


def _selection(scope: checklists.Scope) -> tuple[str, dict[int, list[uuid.UUID]]]:
    """(action, statements per learner) from the grid form or the confirmation form."""
    action = request.form.get("action", "")
    plan: dict[int, list[uuid.UUID]] = defaultdict(list)
    if action == "cells":
        for raw in request.form.getlist("cell"):
            learner, _, statement = raw.partition(":")
            learner_id = ids.form_id("cell", learner)
            try:
                statement_id = uuid.UUID(statement)
            except ValueError:
                raise AppError(
                    gettext("The form is missing a valid %(field)s.", field="cell")
                ) from None
            if statement_id not in scope.by_id:
                raise AppError(gettext("Some statements are not part of this checklist."))
            plan[learner_id].append(statement_id)
        if not plan:
            raise AppError(gettext("Select at least one cell of the grid."))
        _course_learners(plan)
        return action, dict(plan)
    learners = pages.form_ints("learner")
    if not learners:
        raise AppError(gettext("Select at least one learner."))
    _course_learners(learners)
    if action == "level":
        level = scope.level(request.form.get("level"))
        if level is None:
            raise AppError(gettext("Choose a level."))
        statements = [c.id for c in level.statements]
    elif action == "statement":
        statement_id = pages.form_uuid("statement")
        if statement_id not in scope.by_id:
            raise AppError(gettext("Some statements are not part of this checklist."))
        statements = [statement_id]
    else:
        raise AppError(gettext("Choose what to sign off."))
    return action, {learner: list(statements) for learner in learners}


@bp.post("/grid/confirm")
@require_instructor
def confirm() -> BaseResponse | str:
    scope = pages.scope()
    try:
        action, plan = _selection(scope)
    except AppError as exc:
        if exc.status == 404 or isinstance(exc, ids.BadFormId):
            raise  # a forged id: an error page, not a flash on the grid
        pages.flash_error(exc)
        return redirect(_back(), 303)
    preview = bulk_plan.preview(request_db.session(), scope, plan, picked=action == "cells")
    return _confirm_page(
        scope,
        preview,
        plan,
        action=action,
        form_action=url_for(".sign"),
        cancel=_grid_url(_grid_args(parse_qsl(request.form.get("back", "")))),
        level=scope.level(request.form.get("level")) if action == "level" else None,
        statement=request.form.get("statement"),
        back=request.form.get("back", ""),
    )


def _confirm_page(
    scope: checklists.Scope,
    preview: bulk_plan.Preview,
    asked: dict[int, list[uuid.UUID]],
    **fields: object,
) -> str:
    """The confirmation of a sign-off: what it signs, what it leaves, what it issues."""
    statements = sorted(
        {s for ids in asked.values() for s in ids},
        key=lambda s: scope.statements.index(scope.by_id[s]),
    )
    db = request_db.session()
    return render_template(
        "checklists/confirm.html",
        scope=scope,
        plan=asked,
        preview=preview,
        names=checklists.people(db, set(asked) | {learner for learner, _ in preview.declined}),
        columns=[scope.by_id[s] for s in statements],
        **fields,
    )


def _already_messages(pairs: list[tuple[int, uuid.UUID]], scope: checklists.Scope) -> None:
    """Tell what an action found already done (another instructor, maybe): who signed it
    when it is one cell, else one line with the count and the signers, however many."""
    if not pairs:
        return
    db = request_db.session()
    signers = checklists.who_signed(db, pairs)
    if len(pairs) > 1:
        by = sorted({mark.by for mark in signers.values() if mark is not None})
        shown = ", ".join(by[:3]) + (", …" if len(by) > 3 else "")
        flash(
            ngettext(
                "%(num)d statement was already signed off (by %(names)s); it was left as it was.",
                "%(num)d statements were already signed off (by %(names)s); they were left as "
                "they were.",
                len(pairs),
                names=shown or "?",
            ),
            "info",
        )
        return
    names = checklists.people(db, {learner for learner, _ in pairs})
    for learner_id, statement_id in pairs:
        mark = signers.get((learner_id, statement_id))
        who = names[learner_id].name if learner_id in names else "#" + str(learner_id)
        flash(
            gettext(
                "%(learner)s: %(code)s was already signed off by %(name)s on %(when)s.",
                learner=who,
                code=scope.by_id[statement_id].code,
                name=mark.by if mark else "?",
                when=format_datetime(mark.at) if mark else "?",
            ),
            "info",
        )


@dataclass
class Outcome:
    signed: int = 0  # sign-off events (cells)
    statements: int = 0  # distinct statements signed
    learners: int = 0  # learners with at least one new sign-off
    already: list[tuple[int, uuid.UUID]] = field(default_factory=list)  # met meanwhile
    issued: int = 0  # credentials


def _sign(scope: checklists.Scope, plan: dict[int, list[uuid.UUID]], note: str | None) -> Outcome:
    """Sign a plan (learners with the same statements in one call)."""
    actor = current_actor()
    db = request_db.session()
    # Learners with the same statements are signed in one call (a whole column or level).
    groups: dict[tuple[uuid.UUID, ...], list[int]] = defaultdict(list)
    statements: Sequence[uuid.UUID]  # a plan's list here, a group's tuple below
    for learner_id, statements in plan.items():
        groups[tuple(statements)].append(learner_id)
    signed = issued = 0
    touched: set[int] = set()
    statements_signed: set[uuid.UUID] = set()
    already: list[tuple[int, uuid.UUID]] = []
    for statements, learners in groups.items():
        result = signoffs.sign(
            db,
            actor_id=actor.user_id,
            context_id=scope.context_id,
            learner_ids=learners,
            statement_ids=list(statements),
            note=note,
            allowed_statements=scope.statement_ids,
        )
        signed += len(result.events)
        issued += len(result.credentials)
        touched |= {e.learner_id for e in result.events}
        statements_signed |= {e.statement_id for e in result.events}
        already.extend(result.already_met)
        signoff_requests.settle_met(
            db,
            actor_id=actor.user_id,
            context_id=scope.context_id,
            learner_ids=learners,
            statement_ids=list(statements),
        )
    return Outcome(signed, len(statements_signed), len(touched), already, issued)


def _report(
    outcome: Outcome, scope: checklists.Scope, preview: bulk_plan.Preview | None = None
) -> None:
    """One line per kind of result, whatever the number of cells."""
    if outcome.signed:
        flash(
            ngettext(
                "Signed off %(num)d statement for %(learners)s.",
                "Signed off %(num)d statements for %(learners)s.",
                outcome.statements,
                learners=ngettext("%(num)d learner", "%(num)d learners", outcome.learners),
            ),
            "success",
        )
    if outcome.issued:
        flash(
            ngettext(
                "%(num)d credential was issued.",
                "%(num)d credentials were issued.",
                outcome.issued,
            ),
            "success",
        )
    _already_messages([*(preview.already_met if preview else []), *outcome.already], scope)
    if preview and preview.declined:
        flash(
            ngettext(
                "%(num)d statement whose request was declined was left out: sign it on the "
                "learner's page.",
                "%(num)d statements whose requests were declined were left out: sign them on "
                "the learner's page.",
                len(preview.declined),
            ),
            "info",
        )


@bp.post("/grid/sign")
@require_instructor
def sign() -> BaseResponse:
    scope = pages.scope()
    try:
        action, asked = _selection(scope)
        preview = bulk_plan.preview(request_db.session(), scope, asked, picked=action == "cells")
        outcome = _sign(scope, preview.plan, request.form.get("note"))
    except AppError as exc:
        if exc.status == 404 or isinstance(exc, ids.BadFormId):
            raise  # a forged id: an error page, not a flash on the grid
        pages.flash_error(exc)  # an error flashed: nothing of this request is kept (§3)
        return redirect(_back(), 303)
    _report(outcome, scope, preview)
    return redirect(_back(), 303)


# -- one learner -------------------------------------------------------------------------
def _learner_page(learner_id: int, error: str | None = None, status: int = 200) -> tuple[str, int]:
    if error is not None:
        # A failed request commits nothing (docs/architecture.md §3); drop its writes before
        # reading, so the page shows what is stored.
        request_db.fail()
    scope = pages.scope()
    db = request_db.session()
    view = checklists.checklist(db, scope, learner_id, private_notes=True)
    html = render_template(
        "checklists/learner_detail.html",
        scope=scope,
        checklist=view,
        error=error,
        error_statement=request.form.get("statement") if error else None,
    )
    return html, status


@bp.get("/learners/<dbid:learner_id>")
@require_instructor
def learner(learner_id: int) -> tuple[str, int]:
    pages.course_learner(learner_id)
    return _learner_page(learner_id)


@bp.post("/learners/<dbid:learner_id>/sign")
@require_instructor
def learner_sign(learner_id: int) -> BaseResponse | tuple[str, int]:
    pages.course_learner(learner_id)
    scope = pages.scope()
    statements = pages.form_uuids("statement")
    picked = bool(statements)  # one statement chosen, not "every remaining one"
    level = None if picked else scope.level(request.form.get("level"))
    if level is not None:
        statements = [c.id for c in level.statements]
    if not statements:
        return _learner_page(learner_id, gettext("Choose what to sign off."), 400)
    asked = {learner_id: statements}
    preview = bulk_plan.preview(request_db.session(), scope, asked, picked=picked)
    if preview.completes and not request.form.get("confirmed"):
        # It issues a credential: say so and ask first.
        return _confirm_page(
            scope,
            preview,
            asked,
            action="learner",
            form_action=url_for(".learner_sign", learner_id=learner_id),
            cancel=url_for(".learner", learner_id=learner_id),
            level=level,
            picked=statements if picked else [],
            note=request.form.get("note", ""),
        ), 200
    try:
        outcome = _sign(scope, preview.plan, request.form.get("note"))
    except AppError as exc:
        return _learner_page(learner_id, pages.message(exc), exc.status)
    _report(outcome, scope, preview)
    anchor = f"st-{statements[0]}" if len(statements) == 1 else None
    return redirect(url_for(".learner", learner_id=learner_id, _anchor=anchor), 303)


@bp.post("/learners/<dbid:learner_id>/undo")
@require_instructor
def learner_undo(learner_id: int) -> BaseResponse | tuple[str, int]:
    pages.course_learner(learner_id)
    scope = pages.scope()
    statement_id = pages.form_uuid("statement")
    reason = (request.form.get("reason") or "").strip()
    db = request_db.session()
    level = scope.level_of(statement_id)
    if level is None:
        return _learner_page(
            learner_id, gettext("Some statements are not part of this checklist."), 400
        )
    if not reason and awarding.live_credentials(db, learner_id=learner_id, level_ids=[level.id]):
        return _learner_page(
            learner_id,
            gettext(
                "A credential was already issued for %(level)s: give a reason. The credential "
                "will be revoked, and the reason shown on its public page.",
                level=level.label,
            ),
            400,
        )
    actor = current_actor()
    try:
        result = signoffs.undo(
            db,
            actor_id=actor.user_id,
            context_id=scope.context_id,
            learner_id=learner_id,
            statement_id=statement_id,
            reason=reason or None,
            allowed_statements=scope.statement_ids,
        )
    except AppError as exc:
        return _learner_page(learner_id, pages.message(exc), exc.status)
    flash(
        gettext("The sign-off of %(code)s was undone.", code=scope.by_id[statement_id].code),
        "success",
    )
    if result.revoked:
        flash(
            ngettext(
                "%(num)d credential was revoked.",
                "%(num)d credentials were revoked.",
                len(result.revoked),
            ),
            "info",
        )
    return redirect(url_for(".learner", learner_id=learner_id, _anchor=f"st-{statement_id}"), 303)


@bp.post("/learners/<dbid:learner_id>/reissue")
@require_instructor
def reissue(learner_id: int) -> BaseResponse | tuple[str, int]:
    """Issue a revoked credential's level again, once the cause is fixed: the service checks,
    from the stored sign-offs, that the level is complete and nothing stands for it."""
    pages.course_learner(learner_id)
    scope = pages.scope()
    level = scope.level(request.form.get("level"))
    if level is None:
        return _learner_page(learner_id, gettext("Choose a level of this checklist."), 400)
    actor = current_actor()
    try:
        awarding.reissue(
            request_db.session(),
            learner_id=learner_id,
            level_id=level.id,
            context_id=scope.context_id,
            actor_id=actor.user_id,
        )
    except AppError as exc:
        return _learner_page(learner_id, pages.message(exc), exc.status)
    flash(
        gettext(
            "A new credential for %(level)s was issued; the revoked one stays revoked.",
            level=level.label,
        ),
        "success",
    )
    return redirect(url_for(".learner", learner_id=learner_id, _anchor=f"level-{level.key}"), 303)


@bp.get("/learners/<dbid:learner_id>/audit")
@require_instructor
def audit(learner_id: int) -> str:
    pages.course_learner(learner_id)
    scope = pages.scope()
    db = request_db.session()
    person = checklists.people(db, [learner_id])[learner_id]
    entries = checklists.audit_trail(db, scope, learner_id)
    return render_template("checklists/audit.html", scope=scope, learner=person, entries=entries)


# -- requests ------------------------------------------------------------------------------
AGES = (1, 3, 7, 14, 30)  # "waiting for more than N days" filter choices
QUEUE_FILTERS = ("learner", "statement", "age")


def _queue_filters(source: Any) -> dict[str, str]:
    """The queue's filters (learner, statement, age) as given, well-formed ones only."""
    found = {}
    learner, statement, age = (source.get(k, "") for k in QUEUE_FILTERS)
    if learner.isdigit() and len(learner) < 12:
        found["learner"] = learner
    with contextlib.suppress(ValueError):
        found["statement"] = str(uuid.UUID(statement))
    if age.isdigit() and int(age) in AGES:
        found["age"] = age
    return found


def _filtered(items: list[checklists.RequestView], filters: dict[str, str]) -> list[Any]:
    now = utcnow()
    return [
        item
        for item in items
        if ("learner" not in filters or str(item.learner_id) == filters["learner"])
        and ("statement" not in filters or str(item.statement_id) == filters["statement"])
        and ("age" not in filters or now - item.created_at > timedelta(days=int(filters["age"])))
    ]


@bp.get("/requests")
@require_instructor
def requests_queue() -> str:
    scope = pages.scope()
    status = request.args.get("status", "pending")
    if status not in ("pending", "approved", "declined", "withdrawn"):
        status = "pending"
    db = request_db.session()
    every = checklists.request_queue(db, scope, status=status)
    filters = _queue_filters(request.args)
    items = _filtered(every, filters)
    names = checklists.people(db, {r.learner_id for r in every})
    return render_template(
        "checklists/requests.html",
        scope=scope,
        items=items,
        every=len(every),
        names=names,
        status=status,
        filters=filters,
        ages=AGES,
        learner_choices=sorted(
            {r.learner_id for r in every}, key=lambda i: names[i].name if i in names else ""
        ),
        statement_choices=[c for c in scope.statements if c.id in {r.statement_id for r in every}],
    )


def _chosen_requests(scope: checklists.Scope, filters: dict[str, str]) -> list[Any]:
    """The requests a bulk form names: every pending one the filters show ("all"), or those
    ticked. An id of another course is a 404, as on the one-request routes."""
    db = request_db.session()
    pending = checklists.request_queue(db, scope, status="pending")
    if request.form.get("all"):
        return _filtered(pending, filters)
    chosen = pages.form_ints("request")
    known = signoff_requests.statuses(db, context_id=scope.context_id, request_ids=chosen)
    if set(chosen) - set(known):
        raise NotFound(gettext("There is no such request in this course."))
    wanted = set(chosen)
    return [item for item in pending if item.id in wanted]


@bp.post("/requests/decide")
@require_instructor
def decide_requests() -> BaseResponse | str:
    """Approve or decline many requests with one comment: the form names them (or "all
    shown"), a confirmation page says what will happen, and its button does it."""
    scope = pages.scope()
    filters = _queue_filters(request.form)
    queue = url_for(".requests_queue", **filters)  # type: ignore[arg-type]  # QUEUE_FILTERS, none is _external
    decision = request.form.get("decision")
    comment = (request.form.get("comment") or "").strip()
    try:
        items = _chosen_requests(scope, filters)
        if decision not in ("approve", "decline"):
            raise AppError(gettext("Choose whether to approve or decline."))
        if not items:
            raise AppError(gettext("Select at least one request."))
        if decision == "decline" and not comment:
            raise AppError(gettext("Say why you decline, so the learner knows what is missing."))
    except AppError as exc:
        if exc.status == 404 or isinstance(exc, ids.BadFormId):
            raise
        pages.flash_error(exc)
        return redirect(queue, 303)
    db = request_db.session()
    if not request.form.get("confirmed"):
        asked: dict[int, list[uuid.UUID]] = defaultdict(list)
        for item in items:
            asked[item.learner_id].append(item.statement_id)
        preview = bulk_plan.preview(db, scope, dict(asked), picked=True)
        return render_template(
            "checklists/requests_confirm.html",
            scope=scope,
            items=items,
            names=checklists.people(db, asked),
            decision=decision,
            comment=comment,
            preview=preview,
            filters=filters,
            cancel=queue,
        )
    return _decide_many(scope, items, decision, comment, queue)


def _decide_many(
    scope: checklists.Scope, items: list[Any], decision: str, comment: str, queue: str
) -> BaseResponse:
    actor = current_actor()
    db = request_db.session()
    done = issued = 0
    decided_meanwhile = 0
    for item in items:
        try:
            if decision == "approve":
                result = signoff_requests.approve(
                    db,
                    actor_id=actor.user_id,
                    context_id=scope.context_id,
                    request_id=item.id,
                    comment=comment or None,
                    allowed_statements=scope.statement_ids,
                ).result
                issued += len(result.credentials) if result is not None else 0
            else:
                signoff_requests.decline(
                    db,
                    actor_id=actor.user_id,
                    context_id=scope.context_id,
                    request_id=item.id,
                    comment=comment,
                )
        except AppError as exc:
            if exc.status != 409:  # decided by someone else meanwhile: counted, not fatal
                pages.flash_error(exc)
                return redirect(queue, 303)
            decided_meanwhile += 1
            continue
        done += 1
    if decision == "approve":
        message = ngettext(
            "%(num)d request approved and signed off.",
            "%(num)d requests approved and signed off.",
            done,
        )
    else:
        message = ngettext(
            "%(num)d request declined; the learner sees your comment.",
            "%(num)d requests declined; the learners see your comment.",
            done,
        )
    flash(message, "success")
    _report(Outcome(issued=issued), scope)
    if decided_meanwhile:
        flash(
            ngettext(
                "%(num)d request had already been decided by someone else; it was left as it was.",
                "%(num)d requests had already been decided by someone else; they were left "
                "as they were.",
                decided_meanwhile,
            ),
            "info",
        )
    return redirect(queue, 303)


def _after_decision(request_id: int) -> BaseResponse:
    """Back where the decision was taken: the queue, or the learner's page."""
    if request.form.get("next") == "learner":
        found = request_db.session().get(SignoffRequest, request_id)
        if found is not None and found.context_id == current_actor().context_id:
            return redirect(
                url_for(
                    ".learner", learner_id=found.learner_id, _anchor=f"st-{found.statement_id}"
                ),
                303,
            )
    return redirect(url_for(".requests_queue", _anchor=f"request-{request_id}"), 303)


@bp.post("/requests/<dbid:request_id>/approve")
@require_instructor
def approve(request_id: int) -> BaseResponse | str:
    scope = pages.scope()
    actor = current_actor()
    db = request_db.session()
    if not request.form.get("confirmed"):
        # An approval that completes a level issues a credential: it is confirmed first.
        pending = [r for r in checklists.request_queue(db, scope) if r.id == request_id]
        asked = {r.learner_id: [r.statement_id] for r in pending}
        preview = bulk_plan.preview(db, scope, asked, picked=True)
        if preview.completes:
            return render_template(
                "checklists/requests_confirm.html",
                scope=scope,
                items=pending,
                names=checklists.people(db, asked),
                decision="approve",
                comment=(request.form.get("comment") or "").strip(),
                preview=preview,
                filters={},
                cancel=url_for(".requests_queue"),
            )
    try:
        decision = signoff_requests.approve(
            db,
            actor_id=actor.user_id,
            context_id=scope.context_id,
            request_id=request_id,
            comment=request.form.get("comment"),
            allowed_statements=scope.statement_ids,
        )
    except AppError as exc:
        if exc.status == 404:
            raise
        pages.flash_error(exc)  # an error flashed: nothing of this request is kept (§3)
        return _after_decision(request_id)
    code = scope.by_id[decision.request.statement_id].code
    flash(gettext("Request approved: %(code)s is signed off.", code=code), "success")
    if decision.result is not None:
        met = list(decision.result.already_met)
        _report(Outcome(already=met, issued=len(decision.result.credentials)), scope)
    return _after_decision(request_id)


@bp.post("/requests/<dbid:request_id>/decline")
@require_instructor
def decline(request_id: int) -> BaseResponse:
    scope = pages.scope()
    actor = current_actor()
    db = request_db.session()
    try:
        signoff_requests.decline(
            db,
            actor_id=actor.user_id,
            context_id=scope.context_id,
            request_id=request_id,
            comment=request.form.get("comment", ""),
        )
    except AppError as exc:
        if exc.status == 404:
            raise
        pages.flash_error(exc)  # an error flashed: nothing of this request is kept (§3)
        return _after_decision(request_id)
    flash(gettext("Request declined; the learner sees your comment."), "success")
    return _after_decision(request_id)


# -- cohort ---------------------------------------------------------------------------------
@bp.get("/cohort")
@require_instructor
def cohort() -> str:
    scope = pages.scope()
    view = checklists.cohort(request_db.session(), scope)
    return render_template("checklists/cohort.html", scope=scope, cohort=view)


@bp.get("/cohort.csv")
@require_instructor
def cohort_csv() -> Response:
    scope = pages.scope()
    labels = {
        "name": gettext("Name"),
        "email": gettext("Email"),
        "met": gettext("met"),
        "complete": gettext("complete"),
        "yes": gettext("yes"),
        "no": gettext("no"),
    }
    # Read everything now: the request's session closes before a stream would finish.
    body = "".join(checklists.progress_csv(request_db.session(), scope, labels))
    response = Response(body, mimetype="text/csv")
    response.headers.set(
        "Content-Disposition", "attachment", filename=f"progress-{scope.context_id}.csv"
    )
    return response
