"""The instructor's pages through the test client: grid, bulk sign-off with confirmation,
single sign-off and undo, two instructors at once, requests, audit, cohort and CSV."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from support.checklist_world import LEARNER, make_world

from lti_app.db.models import Credential, SignoffEvent, SignoffRequest
from lti_app.request_db import database
from lti_app.services import progress, signoff_requests


def _count(app, model, *where):
    with app.app_context(), database(app).transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _met(app, learner_id, statements):
    with app.app_context(), database(app).transaction() as session:
        return progress.met_statement_ids(session, learner_id, statements)


def test_bulk_level_signoff_for_a_class_of_thirty(app, client):
    world = make_world(app, learners=30)
    teacher = world.caller(client, world.instructor)
    grid = teacher.get("/grid?level=emerging")
    assert grid.status_code == 200
    assert grid.text.count('name="learner"') == 30
    learners = [("learner", str(p.id)) for p in world.learners]
    confirm = teacher.post(
        "/grid/confirm",
        [*learners, ("action", "level"), ("level", "emerging"), ("back", "level=emerging")],
    )
    assert confirm.status_code == 200
    # One level of ten statements for 30 learners: ten statements, 300 sign-offs.
    assert "You are signing off 10 statements for 30 learners." in confirm.text
    assert "300 sign-offs will be recorded." in confirm.text
    assert "30 levels will be complete: their credentials are issued" in confirm.text
    assert _count(app, SignoffEvent) == 0  # the confirmation page signs nothing
    done = teacher.post(
        "/grid/sign",
        [
            *learners,
            ("action", "level"),
            ("level", "emerging"),
            ("note", "Skills lab, week 6"),
            ("back", "level=emerging"),
        ],
    )
    assert done.status_code == 303
    assert done.headers["Location"].endswith("/grid?level=emerging")
    assert _count(app, SignoffEvent) == 300
    assert _count(app, Credential) == 30
    page = teacher.get("/grid?level=emerging&status=complete")
    assert "Signed off 10 statements for 30 learners." in page.text
    assert "30 credentials were issued." in page.text
    assert page.text.count('class="cell met"') == 300


def test_checked_cells_and_one_statement_for_selected_learners(app, client, world):
    teacher = world.caller(client, world.instructor)
    first, second = world.statements[0], world.statements[1]
    cells = [
        ("cell", f"{world.learners[0].id}:{first}"),
        ("cell", f"{world.learners[1].id}:{second}"),
    ]
    assert teacher.post("/grid/sign", [*cells, ("action", "cells")]).status_code == 303
    assert _met(app, world.learners[0].id, world.statements) == {first}
    assert _met(app, world.learners[1].id, world.statements) == {second}
    column = [
        ("learner", str(world.learners[2].id)),
        ("action", "statement"),
        ("statement", str(second)),
    ]
    assert teacher.post("/grid/sign", column).status_code == 303
    assert _met(app, world.learners[2].id, world.statements) == {second}


def test_nothing_selected_says_so(app, client, world):
    teacher = world.caller(client, world.instructor)
    answer = teacher.post("/grid/confirm", {"action": "level", "level": "emerging"})
    assert answer.status_code == 303
    assert "Select at least one learner." in teacher.get("/grid").text


def test_two_instructors_at_once_lose_nothing_and_are_told(app, client, world):
    teacher, assistant = world.caller(client, world.instructor), world.caller(client, world.ta)
    learner = world.learner
    emerging = world.levels["emerging"]
    # The TA signs two statements while the instructor has the grid open ...
    assistant.post(
        "/grid/sign",
        [
            ("cell", f"{learner.id}:{emerging[0]}"),
            ("cell", f"{learner.id}:{emerging[1]}"),
            ("action", "cells"),
        ],
    )
    # ... then the instructor signs the whole level from the stale grid.
    teacher.post(
        "/grid/sign", [("learner", str(learner.id)), ("action", "level"), ("level", "emerging")]
    )
    with app.app_context(), database(app).transaction() as session:
        events = session.execute(
            select(SignoffEvent.statement_id, SignoffEvent.actor_id).order_by(SignoffEvent.id)
        ).all()
    assert len(events) == 10  # no duplicate rows, nobody's sign-off overwritten
    assert {s for s, a in events if a == world.ta.id} == set(emerging[:2])
    page = teacher.get("/grid").text
    assert "Signed off 8 statements for 1 learner." in page
    # One line for the cells found met, however many, naming who signed them.
    assert page.count("2 statements were already signed off (by Tomás Assistant)") == 1
    assert "was already signed off by" not in page


def test_single_signoff_with_note_and_undo_with_reason(app, client, world):
    teacher = world.caller(client, world.instructor)
    learner = world.learner
    emerging = world.levels["emerging"]
    signed = teacher.post(
        f"/learners/{learner.id}/sign", {"statement": str(emerging[0]), "note": "On the ward"}
    )
    assert signed.status_code == 303
    page = teacher.get(f"/learners/{learner.id}")
    assert "Note: On the ward" in page.text  # instructors see their notes ...
    assert (
        "On the ward" not in world.caller(client, learner).get("/checklist").text
    )  # learners don't
    undone = teacher.post(f"/learners/{learner.id}/undo", {"statement": str(emerging[0])})
    assert undone.status_code == 303
    assert _met(app, learner.id, emerging) == frozenset()
    assert _count(app, SignoffEvent, SignoffEvent.action == "undo") == 1


def test_undo_after_a_credential_needs_a_reason_and_revokes(app, client, world):
    teacher = world.caller(client, world.instructor)
    learner = world.learner
    emerging = world.levels["emerging"]
    asked = teacher.post(f"/learners/{learner.id}/sign", {"level": "emerging"})
    assert asked.status_code == 200  # it would issue a credential: confirmed first
    assert "its credential is issued to the learner" in asked.text
    assert _count(app, Credential) == 0
    teacher.post(f"/learners/{learner.id}/sign", {"level": "emerging", "confirmed": "1"})
    assert _count(app, Credential, Credential.revoked_at.is_(None)) == 1
    page = teacher.get(f"/learners/{learner.id}").text
    assert "Undoing revokes it" in page
    refused = teacher.post(f"/learners/{learner.id}/undo", {"statement": str(emerging[3])})
    assert refused.status_code == 400
    assert "give a reason" in refused.text and 'role="alert"' in refused.text
    assert _count(app, SignoffEvent, SignoffEvent.action == "undo") == 0
    done = teacher.post(
        f"/learners/{learner.id}/undo",
        {"statement": str(emerging[3]), "reason": "Observation was of another learner."},
    )
    assert done.status_code == 303
    with app.app_context(), database(app).transaction() as session:
        credential = session.scalars(select(Credential)).one()
        assert credential.revoked_at is not None
        assert credential.revocation_reason == "Observation was of another learner."
    assert "1 credential was revoked." in teacher.get(f"/learners/{learner.id}").text
    audit = teacher.get(f"/learners/{learner.id}/audit").text
    assert "Credential revoked" in audit and "Sign-off undone" in audit
    assert "Reason: Observation was of another learner." in audit


def test_requests_queue_approve_and_decline(app, client, world):
    with app.app_context(), database(app).transaction() as session:
        ids = [
            signoff_requests.create(
                session,
                learner_id=p.id,
                context_id=world.context_a,
                statement_id=world.statements[0],
                text=f"evidence of {p.name}",
                url="https://example.edu/e",
                allowed_statements=world.statements,
            ).id
            for p in world.learners[:2]
        ]
    teacher = world.caller(client, world.instructor)
    queue = teacher.get("/requests")
    assert queue.status_code == 200
    assert "evidence of Zoë Ødegård" in queue.text
    assert 'rel="noopener noreferrer nofollow ugc"' in queue.text
    assert "2 requests are waiting for review" in teacher.get("/grid").text

    assert teacher.post(f"/requests/{ids[0]}/approve", {"comment": ""}).status_code == 303
    refused = teacher.post(f"/requests/{ids[1]}/decline", {"comment": ""})
    assert refused.status_code == 303
    assert "Say why you decline" in teacher.get("/requests").text
    assert (
        teacher.post(f"/requests/{ids[1]}/decline", {"comment": "Add a date."}).status_code == 303
    )
    # Approving again (a second tab, another instructor) says who was first.
    assistant = world.caller(client, world.ta)
    assert assistant.post(f"/requests/{ids[0]}/approve").status_code == 303
    assert "already approved by Irene Instructor" in assistant.get("/requests").text
    with app.app_context(), database(app).transaction() as session:
        rows = session.scalars(select(SignoffRequest).order_by(SignoffRequest.id)).all()
        assert [r.status for r in rows] == ["approved", "declined"]
    assert world.statements[0] in _met(app, world.learners[0].id, world.statements)
    learner_page = world.caller(client, world.learners[1]).get("/checklist").text
    assert "Add a date." in learner_page
    assert teacher.get("/requests?status=declined").text.count('class="card request"') == 1


def test_cohort_chart_has_a_text_alternative_and_csv_downloads(app, client, world):
    teacher = world.caller(client, world.instructor)
    teacher.post(
        "/grid/sign",
        [
            ("learner", str(world.learner.id)),
            ("action", "statement"),
            ("statement", str(world.statements[0])),
        ],
    )
    page = teacher.get("/cohort")
    assert page.status_code == 200
    assert 'role="img"' in page.text and 'aria-labelledby="chart-title chart-desc"' in page.text
    assert page.text.count("<rect") == 2 * len(world.statements)
    # The table gives the same figures: 1 of 3 learners met 1.1.
    assert re.search(r"<th scope=\"row\">1\.1</th><td>[^<]+</td><td>1 / 3</td>", page.text)
    csv = teacher.get("/cohort.csv")
    assert csv.status_code == 200
    assert csv.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in csv.headers["Content-Disposition"]
    assert csv.data.decode("utf-8").count("\r\n") == 4  # header + 3 learners


def test_learner_of_another_course_is_not_found(client, world):
    teacher = world.caller(client, world.instructor)
    assert teacher.get(f"/learners/{world.other_learner.id}").status_code == 404
    assert (
        teacher.post(
            f"/learners/{world.other_learner.id}/sign", {"statement": str(world.statements[0])}
        ).status_code
        == 404
    )


def test_select_all_works_without_javascript(client, world):
    teacher = world.caller(client, world.instructor)
    plain = teacher.get("/grid?level=emerging").text
    assert plain.count('class="row-select" checked') == 0
    assert "select=all" in plain  # the link a browser without JavaScript follows
    selected = teacher.get("/grid?level=emerging&select=all").text
    assert selected.count('class="row-select" checked') == len(world.learners)
    assert "3 learners selected" in selected


def test_roster_refresh_without_a_roster_service_says_so(client, world):
    teacher = world.caller(client, world.instructor)
    answer = teacher.post("/grid/roster", {"back": "level=emerging"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/grid?level=emerging")
    assert "This course offers no roster service" in teacher.get("/grid").text


def test_two_bulk_actions_at_the_same_moment(app, world):
    """Two instructors press "sign" for overlapping cells at once: every cell is signed once,
    the credential is issued once, and both get an answer."""
    import threading

    learner = world.learner
    emerging = [str(s) for s in world.levels["emerging"]]
    callers = [world.caller(app.test_client(), p) for p in (world.instructor, world.ta)]
    forms = [
        [("cell", f"{learner.id}:{s}") for s in emerging[:7]] + [("action", "cells")],
        [("cell", f"{learner.id}:{s}") for s in emerging[3:]] + [("action", "cells")],
    ]
    for caller in callers:
        caller.csrf()
    start = threading.Barrier(2)
    answers = [None, None]

    def press(n):
        start.wait()
        answers[n] = callers[n].post("/grid/sign", forms[n]).status_code

    threads = [threading.Thread(target=press, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == [303, 303]
    assert _count(app, SignoffEvent) == 10
    assert _count(app, Credential) == 1


def test_the_grid_shows_what_is_known_and_the_worker_reads_the_roster(app, client, world):
    """A stale roster never holds the grid up: the page queues a sync for the worker, says
    so, and a learner who never launched appears once the sync has landed."""
    from lti_app.db.models import Context, Membership, OutboxMessage, User
    from lti_app.services import roster

    with app.app_context(), database(app).transaction() as session:
        # A closed port: had the page called the platform, it would say it could not.
        session.get(Context, world.context_a).memberships_url = "http://127.0.0.1:9/memberships"
    teacher = world.caller(client, world.instructor)
    first = teacher.get("/grid")
    assert first.status_code == 200
    assert "Refreshing the course roster" in first.text
    assert "could not be read from the platform" not in first.text
    assert world.learner.name in first.text  # what is known is shown at once
    again = teacher.get("/grid")
    assert "Refreshing the course roster" in again.text
    syncs = [OutboxMessage.kind == roster.KIND]
    assert _count(app, OutboxMessage, *syncs) == 1  # queued once, not once per view

    # The worker's sync lands (what its roster_sync handler writes): a new learner.
    with app.app_context(), database(app).transaction() as session:
        context = session.get(Context, world.context_a)
        known = session.execute(
            select(User.sub, Membership.roles, Membership.is_instructor, Membership.is_learner)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.context_id == context.id)
        ).all()
        members = [
            roster.RosterMember(sub, tuple(roles), bool(teaches), bool(learns), True)
            for sub, roles, teaches, learns in known
        ]
        members.append(
            roster.RosterMember(
                "never-launched", (LEARNER,), False, True, True, name="Noa Newcomer"
            )
        )
        roster.apply_roster(session, context, members)
    landed = teacher.get("/grid")
    assert "Noa Newcomer" in landed.text
    assert "Refreshing the course roster" not in landed.text  # fresh now
