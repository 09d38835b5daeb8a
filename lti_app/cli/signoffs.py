"""`skillsign signoffs import FILE.csv`: backfill sign-offs (and so credentials)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from lti_app.cli.common import echo_json, fail
from lti_app.request_db import database
from lti_app.services import signoff_import
from lti_app.services.errors import AppError


@click.group("signoffs")
def signoffs_group() -> None:
    """Sign-offs recorded outside the app."""


@signoffs_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def signoffs_import(file: Path, as_json: bool) -> None:
    """Import sign-offs from a CSV file; completed levels are awarded their credentials.

    Columns: platform_issuer, user_id, name, email, context_id, framework_id,
    framework_version, level, statement, signed_by, signed_at, note. Every row is checked
    first: on any error nothing is written. Importing the same file twice adds nothing.
    """
    data = file.read_bytes()
    try:
        with database().transaction() as session:
            report = signoff_import.run(session, data)
            issued = [str(c.id) for c in report.credentials]
    except AppError as error:
        fail(f"{file}: {error.detail}")
    if as_json:
        echo_json(report.to_dict())
        return
    click.echo(
        f"{report.rows} rows: {report.signed} sign-offs written, {report.skipped} already "
        f"imported, {report.already_met} already signed off; {len(issued)} credential(s) issued"
    )
    for credential_id in issued:
        click.echo(f"  issued {credential_id}")
