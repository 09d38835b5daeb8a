"""Ending launch sessions: the Sign out button (a CSRF-checked POST) and
`skillsign sessions end` for administrators."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from support.checklist_world import make_world

from lti_app.db.models import LaunchSession


@pytest.fixture
def world(app):
    return make_world(app)


def _sessions(db) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(LaunchSession)) or 0)


def test_sign_out_ends_the_session_and_its_token_is_dead(app, client, db, world):
    teacher = world.caller(client, world.instructor)
    learner = world.caller(client, world.learner)
    grid = teacher.get("/grid")
    assert grid.status_code == 200
    assert f'action="/s/{teacher.token}/sign-out"' in grid.text  # on every launch page
    assert _sessions(db) == 2

    # Without the form's CSRF token nothing ends (a cross-site page cannot sign anyone out).
    forged = teacher.post("/sign-out", csrf=False)
    assert forged.status_code == 400 and "CSRF" in forged.text
    assert teacher.get("/grid").status_code == 200

    done = teacher.post("/sign-out")
    assert done.status_code == 200
    assert "You have signed out of skillsign" in done.text
    assert _sessions(db) == 1  # the row is gone; the learner's session is untouched
    for path in ("/grid", "/cohort.csv", "/"):
        dead = teacher.get(path)
        assert dead.status_code == 401, path
        assert "Launch skillsign again from your course." in dead.text
    assert teacher.post("/sign-out").status_code == 401
    assert learner.get("/checklist").status_code == 200


def test_sign_out_is_translated(app, client, world):
    teacher = world.caller(client, world.instructor, locale="es")
    assert "Cerrar sesión" in teacher.get("/grid").text
    assert "Has cerrado tu sesión de skillsign" in teacher.post("/sign-out").text


def test_cli_ends_a_users_sessions_or_all(app, client, db, runner, world):
    first = world.caller(client, world.instructor)
    second = world.caller(client, world.instructor)
    learner = world.caller(client, world.learner)
    ta = world.caller(client, world.ta)

    refused = runner.invoke(args=["sessions", "end"])
    assert refused.exit_code != 0 and "exactly one of --user ID or --all" in refused.output
    unknown = runner.invoke(args=["sessions", "end", "--user", "999999"])
    assert unknown.exit_code != 0 and "no user with id 999999" in unknown.output
    assert _sessions(db) == 4

    ended = runner.invoke(args=["sessions", "end", "--user", str(world.instructor.id)])
    assert ended.exit_code == 0, ended.output
    assert "2 launch session(s) ended" in ended.output
    assert first.get("/grid").status_code == 401
    assert second.get("/grid").status_code == 401
    assert learner.get("/checklist").status_code == 200

    everything = runner.invoke(args=["sessions", "end", "--all"])
    assert everything.exit_code == 0 and "2 launch session(s) ended" in everything.output
    assert learner.get("/checklist").status_code == 401
    assert ta.get("/grid").status_code == 401
    assert _sessions(db) == 0
