"""Bulk actions say exactly what they will do and do only that: counts of statements and
learners apart, met cells left in one line, declined requests left out unless picked, a
confirmation before anything that issues a credential, and the requests queue decided in
bulk (filters, "all shown", one comment) with plain form posts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from support.checklist_world import make_world

from lti_app.db import utcnow
from lti_app.db.models import Credential, SignoffEvent, SignoffRequest
from lti_app.request_db import database
from lti_app.services import progress, signoff_requests


def _count(app, model, *where):
    with app.app_context(), database(app).transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _met(app, learner_id, statements):
    with app.app_context(), database(app).transaction() as session:
        return progress.met_statement_ids(session, learner_id, statements)


def _ask(app, world, learner, statement, *, text="I did it.") -> int:
    with app.app_context(), database(app).transaction() as session:
        return signoff_requests.create(
            session,
            learner_id=learner.id,
            context_id=world.context_a,
            statement_id=statement,
            text=text,
            allowed_statements=world.statements,
        ).id


def _flashes(html: str) -> list[str]:
    import re

    return re.findall(r'<p class="flash flash-\w+">([^<]*)</p>', html)


def test_one_statement_for_five_learners_is_counted_as_one(app, client):
    world = make_world(app, learners=5)
    teacher = world.caller(client, world.instructor)
    learners = [("learner", str(p.id)) for p in world.learners]
    form = [*learners, ("action", "statement"), ("statement", str(world.statements[0]))]
    confirm = teacher.post("/grid/confirm", form)
    assert confirm.status_code == 200
    assert "You are signing off 1 statement for 5 learners." in confirm.text
    assert "5 sign-offs will be recorded." in confirm.text
    assert "will be complete" not in confirm.text  # no credential: no such line
    assert teacher.post("/grid/sign", form).status_code == 303
    page = teacher.get("/grid").text
    assert "Signed off 1 statement for 5 learners." in page


def test_repeating_a_bulk_action_says_so_in_one_line(app, client):
    world = make_world(app, learners=4)
    teacher = world.caller(client, world.instructor)
    form = [
        *[("learner", str(p.id)) for p in world.learners],
        ("action", "level"),
        ("level", "emerging"),
    ]
    teacher.post("/grid/sign", form)
    teacher.get("/grid")  # the first action's messages are shown and gone
    again = teacher.post("/grid/confirm", form)
    assert "40 statements are already signed off and are left as they are." in again.text
    assert "0 sign-offs will be recorded." in again.text
    teacher.post("/grid/sign", form)
    flashes = _flashes(teacher.get("/grid").text)
    assert flashes == [
        "40 statements were already signed off (by Irene Instructor); they were left as they were."
    ]
    assert _count(app, SignoffEvent) == 40


def test_a_declined_request_is_left_out_of_bulk_actions_unless_picked(app, client, world):
    teacher = world.caller(client, world.instructor)
    learner, statement = world.learners[0], world.levels["emerging"][2]
    request_id = _ask(app, world, learner, statement)
    teacher.post(f"/requests/{request_id}/decline", {"comment": "Not yet seen on the ward."})
    column = [
        *[("learner", str(p.id)) for p in world.learners],
        ("action", "statement"),
        ("statement", str(statement)),
    ]
    confirm = teacher.post("/grid/confirm", column).text
    assert "1 statement whose request was declined is left out" in confirm
    assert "2 sign-offs will be recorded." in confirm
    teacher.post("/grid/sign", column)
    assert statement not in _met(app, learner.id, [statement])
    assert statement in _met(app, world.learners[1].id, [statement])
    assert any("whose request was declined" in f for f in _flashes(teacher.get("/grid").text))
    # The learner's "every remaining statement" leaves it out too ...
    teacher.post(f"/learners/{learner.id}/sign", {"level": "emerging", "confirmed": "1"})
    assert statement not in _met(app, learner.id, [statement])
    assert _count(app, Credential) == 0
    # ... and a cell the instructor picks is signed.
    cell = [("cell", f"{learner.id}:{statement}"), ("action", "cells")]
    assert "2 sign-offs" not in teacher.post("/grid/confirm", cell).text
    teacher.post("/grid/sign", cell)
    assert statement in _met(app, learner.id, [statement])


def test_the_learner_page_confirms_before_issuing_a_credential(app, client, world):
    teacher = world.caller(client, world.instructor)
    learner = world.learner
    emerging = world.levels["emerging"]
    # One statement that does not complete the level: signed at once.
    assert (
        teacher.post(f"/learners/{learner.id}/sign", {"statement": str(emerging[0])}).status_code
        == 303
    )
    asked = teacher.post(f"/learners/{learner.id}/sign", {"level": "emerging", "note": "Ward 3"})
    assert asked.status_code == 200
    assert "You are signing off 10 statements for 1 learner." in asked.text
    assert "9 sign-offs will be recorded." in asked.text
    assert "1 statement is already signed off" in asked.text
    assert "1 level will be complete: its credential is issued to the learner." in asked.text
    assert 'name="confirmed" value="1"' in asked.text and "Ward 3" in asked.text
    assert _count(app, SignoffEvent) == 1 and _count(app, Credential) == 0
    done = teacher.post(
        f"/learners/{learner.id}/sign", {"level": "emerging", "confirmed": "1", "note": "Ward 3"}
    )
    assert done.status_code == 303
    assert _count(app, Credential) == 1
    assert "1 credential was issued." in teacher.get(f"/learners/{learner.id}").text


def test_approving_the_request_that_completes_a_level_confirms_first(app, client, world):
    teacher = world.caller(client, world.instructor)
    learner = world.learner
    emerging = world.levels["emerging"]
    teacher.post(
        "/grid/sign", [*[("cell", f"{learner.id}:{s}") for s in emerging[1:]], ("action", "cells")]
    )
    request_id = _ask(app, world, learner, emerging[0])
    asked = teacher.post(f"/requests/{request_id}/approve", {"comment": ""})
    assert asked.status_code == 200
    assert "its credential is issued to the learner" in asked.text
    assert _count(app, Credential) == 0
    assert _count(app, SignoffRequest, SignoffRequest.status == "pending") == 1
    teacher.post(
        "/requests/decide",
        {"request": str(request_id), "decision": "approve", "confirmed": "1"},
    )
    assert _count(app, Credential) == 1


def test_the_queue_filters_by_learner_statement_and_age(app, client, world):
    teacher = world.caller(client, world.instructor)
    first, second = world.statements[0], world.statements[1]
    old = _ask(app, world, world.learners[0], first, text="old one")
    _ask(app, world, world.learners[1], first, text="other learner")
    _ask(app, world, world.learners[0], second, text="other statement")
    with app.app_context(), database(app).transaction() as session:
        session.execute(
            update(SignoffRequest)
            .where(SignoffRequest.id == old)
            .values(created_at=utcnow() - timedelta(days=10))
        )
    shown = teacher.get("/requests").text
    assert shown.count('class="card request"') == 3
    by_learner = teacher.get(f"/requests?learner={world.learners[0].id}").text
    assert by_learner.count('class="card request"') == 2 and "other learner" not in by_learner
    by_statement = teacher.get(f"/requests?statement={first}").text
    assert by_statement.count('class="card request"') == 2
    assert "other statement" not in by_statement
    by_age = teacher.get("/requests?age=7").text
    assert by_age.count('class="card request"') == 1 and "old one" in by_age
    assert "All 1 request shown" in by_age


def test_approve_every_filtered_request_with_one_comment_without_javascript(app, client):
    world = make_world(app, learners=6)
    teacher = world.caller(client, world.instructor)
    first, second = world.statements[0], world.statements[1]
    for p in world.learners:
        _ask(app, world, p, first)
    kept = _ask(app, world, world.learners[0], second)
    # "All shown" with a filter: the server takes what the filter shows, nothing else.
    form = {"all": "1", "statement": str(first), "decision": "approve", "comment": "Seen."}
    confirm = teacher.post("/requests/decide", form)
    assert confirm.status_code == 200
    assert "You are approving 6 requests: 1 statement for 6 learners." in confirm.text
    assert confirm.text.count('name="request"') == 6
    assert _count(app, SignoffEvent) == 0  # the confirmation page signs nothing
    done = teacher.post(
        "/requests/decide",
        [
            *[("request", r) for r in _request_ids(confirm.text)],
            ("decision", "approve"),
            ("comment", "Seen."),
            ("confirmed", "1"),
            ("statement", str(first)),
        ],
    )
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/requests?statement={first}")
    assert _count(app, SignoffRequest, SignoffRequest.status == "approved") == 6
    assert _count(app, SignoffEvent) == 6
    for p in world.learners:  # approving settles the cell
        assert first in _met(app, p.id, [first])
    with app.app_context(), database(app).transaction() as session:
        assert session.get(SignoffRequest, kept).status == "pending"
    assert "6 requests approved and signed off." in teacher.get("/requests").text


def test_decline_selected_needs_a_comment_and_reaches_each_learner(app, client, world):
    teacher = world.caller(client, world.instructor)
    ids = [_ask(app, world, p, world.statements[0]) for p in world.learners[:2]]
    chosen = [("request", str(i)) for i in ids]
    refused = teacher.post("/requests/decide", [*chosen, ("decision", "decline")])
    assert refused.status_code == 303
    assert "Say why you decline" in teacher.get("/requests").text
    teacher.post(
        "/requests/decide",
        [*chosen, ("decision", "decline"), ("comment", "Add the date."), ("confirmed", "1")],
    )
    assert _count(app, SignoffRequest, SignoffRequest.status == "declined") == 2
    assert _count(app, SignoffEvent) == 0
    page = world.caller(client, world.learners[1]).get("/checklist").text
    assert "Add the date." in page


def test_a_request_of_another_course_is_not_found(app, client, world):
    request_id = _ask(app, world, world.learner, world.statements[0])
    other = world.caller(client, world.other_instructor)
    answer = other.post("/requests/decide", {"request": str(request_id), "decision": "approve"})
    assert answer.status_code == 404
    assert _count(app, SignoffRequest, SignoffRequest.status == "pending") == 1


def test_bulk_forms_need_the_csrf_token(app, client, world):
    request_id = _ask(app, world, world.learner, world.statements[0])
    teacher = world.caller(client, world.instructor)
    answer = teacher.post(
        "/requests/decide",
        {"request": str(request_id), "decision": "approve", "confirmed": "1"},
        csrf=False,
    )
    assert answer.status_code == 400
    assert _count(app, SignoffEvent) == 0


def _request_ids(html: str) -> list[str]:
    import re

    return re.findall(r'name="request" value="(\d+)"', html)
