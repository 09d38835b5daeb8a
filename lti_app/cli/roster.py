"""`skillsign roster sync`"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from keys import KeyStore
from lti_app.cli.common import fail
from lti_app.db.models import Context
from lti_app.request_db import database
from lti_app.services.roster import RosterUnavailable, sync_roster


@click.group("roster")
def roster_group() -> None:
    """Course rosters from the platforms (LTI Names and Role Provisioning)."""


@roster_group.command("sync")
@click.argument("context_id", type=int)
@click.option("--force", is_flag=True, help="Fetch even if the stored roster is recent.")
@with_appcontext
def roster_sync(context_id: int, force: bool) -> None:
    """Fetch the roster of course CONTEXT_ID (the tool's course id) from its platform."""
    keys = KeyStore(current_app.config["KEYS_DIR"])
    with database().transaction() as session:
        context = session.get(Context, context_id)
        if context is None:
            fail(f"no course with id {context_id}")
        try:
            result = sync_roster(session, context, keys, force=force)
        except RosterUnavailable as exc:
            fail(str(exc))
    if not result.fetched:
        click.echo("roster is recent; nothing fetched (use --force)")
        return
    click.echo(
        f"{result.members} members: {result.added} new, {result.deactivated} no longer listed"
    )
