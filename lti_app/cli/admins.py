"""`skillsign admins ...`: tool administrators."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from lti_app.cli.common import echo_json, fail
from lti_app.db.models import Admin
from lti_app.request_db import database
from lti_app.services import admins
from lti_app.services.errors import AppError


@click.group("admins")
def admins_group() -> None:
    """Tool administrators: they see the admin pages of every launch."""


def _describe(admin: Admin) -> dict[str, Any]:
    return {
        "id": admin.id,
        "issuer": admin.issuer,
        "sub": admin.sub,
        "email": admin.email,
        "created_at": admin.created_at.isoformat() if admin.created_at else None,
    }


def _label(row: dict[str, Any]) -> str:
    who = f"sub {row['sub']}" if row["sub"] else f"email {row['email']}"
    where = f"issuer {row['issuer']}" if row["issuer"] else "any issuer"
    return f"{who} ({where})"


@admins_group.command("add")
@click.option("--issuer", help="The platform's issuer (iss); required with --sub.")
@click.option("--sub", help="The person's user id on that platform (the launch's sub).")
@click.option("--email", help="The person's email, as the platform sends it.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def admins_add(issuer: str | None, sub: str | None, email: str | None, as_json: bool) -> None:
    """Make someone a tool administrator (from their next launch)."""
    try:
        with database().transaction() as session:
            result = admins.add(session, issuer=issuer, sub=sub, email=email)
            row = _describe(result.admin)
    except AppError as exc:
        fail(exc.detail)
    if as_json:
        echo_json({**row, "created": result.created})
        return
    verb = "added:" if result.created else "already an admin:"
    click.echo(f"admin {row['id']} {verb} {_label(row)}")
    if result.created and email and not issuer:
        click.echo(
            "note: an email-only entry trusts every platform's email claim; "
            "add --issuer unless all of them vouch for their emails"
        )


@admins_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def admins_list(as_json: bool) -> None:
    """List tool administrators."""
    with database().transaction() as session:
        rows = [_describe(a) for a in admins.list_admins(session)]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no admins; add one with `skillsign admins add`")
    for row in rows:
        click.echo(f"{row['id']}  {_label(row)}")


@admins_group.command("remove")
@click.argument("admin_id", type=int)
@with_appcontext
def admins_remove(admin_id: int) -> None:
    """Remove admin ADMIN_ID (from `admins list`) and end their open sessions."""
    try:
        with database().transaction() as session:
            ended = admins.remove(session, admin_id)
    except AppError as exc:
        fail(exc.detail)
    suffix = f"; {ended} open session(s) ended" if ended else ""
    click.echo(f"admin {admin_id} removed{suffix}")
