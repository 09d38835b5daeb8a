"""`skillsign sessions end`: end launch sessions now (a lost laptop, a departed colleague)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from lti_app.cli.common import fail
from lti_app.db.models import User
from lti_app.lti import sessions
from lti_app.request_db import database


@click.group("sessions")
def sessions_group() -> None:
    """Launch sessions (the pages a launch opens)."""


@sessions_group.command("end")
@click.option("--user", "user_id", type=int, help="The tool's user id: end that user's sessions.")
@click.option("--all", "end_all", is_flag=True, help="End every launch session.")
@with_appcontext
def sessions_end(user_id: int | None, end_all: bool) -> None:
    """End launch sessions; their pages ask the user to launch again from the course."""
    if (user_id is None) == (not end_all):
        fail("give exactly one of --user ID or --all")
    with database().transaction() as session:
        if user_id is not None and session.get(User, user_id) is None:
            fail(f"no user with id {user_id}")
        ended = sessions.end(session, user_id=user_id)
    click.echo(f"{ended} launch session(s) ended")
