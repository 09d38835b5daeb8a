"""`skillsign db ...`: the schema, through Alembic only."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_app import migrate
from lti_app.request_db import database


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {migrate.current_revision(database().engine)}")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Print the schema revision of the database."""
    click.echo(migrate.current_revision(database().engine) or "empty")
