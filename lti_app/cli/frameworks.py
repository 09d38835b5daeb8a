"""`skillsign frameworks ...`"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from frameworks import FrameworkError, detect_format, load
from lti_app.cli.common import echo_json as _echo_json
from lti_app.cli.common import fail as _fail
from lti_app.db.models import FrameworkVersion
from lti_app.request_db import database
from lti_app.services import frameworks as framework_service


@click.group("frameworks")
def frameworks_group() -> None:
    """Skills frameworks: import, list, show, export."""


def import_path(path: Path) -> tuple[dict[str, Any], bool]:
    """Import one file in one transaction: (summary, created). Exits 1 on bad input.

    What the CLI imports is published for every platform (``owner_platform_id`` NULL).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        _fail(f"{path}: file not found")
    except IsADirectoryError:
        _fail(f"{path}: is a directory, expected a JSON file")
    try:
        fw = load(raw)
        fmt = detect_format(json.loads(raw))
    except FrameworkError as exc:
        _fail(f"{path}: invalid framework\n{exc}")
    try:
        with database().transaction() as session:
            result = framework_service.import_framework(session, fw, fmt)
            info = framework_service.summary(result.version)
            return info | {"published": result.published}, result.created
    except framework_service.FrameworkConflict as exc:
        _fail(f"{path}: {exc}")


@frameworks_group.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_appcontext
def frameworks_import(path: Path, as_json: bool) -> None:
    """Import a framework (seed format or CASE CFPackage) from PATH."""
    info, created = import_path(path)
    if as_json:
        _echo_json(
            {k: info[k] for k in ("id", "identifier", "version", "title", "levels")}
            | {"created": created}
        )
        return
    if info["published"]:
        verb = "already imported by a platform, now published for every platform"
    else:
        verb = "imported" if created else "already imported, unchanged"
    click.echo(f"{info['title']} {info['version']} ({info['id']}): {verb}")
    click.echo(f"  custom parameters: {_custom_parameters(info)}")


@frameworks_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def frameworks_list(as_json: bool) -> None:
    """List imported framework versions."""
    with database().transaction() as session:
        rows: list[dict[str, Any]] = [  # summary()'s values, read by key below
            framework_service.summary(v)
            for v in framework_service.list_versions(session, scope=framework_service.EVERY)
        ]
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no frameworks imported")
    for row in rows:
        levels = ", ".join(f"{lv['key']} ({lv['statements']})" for lv in row["levels"])
        click.echo(f"{row['id']}  {row['title']}  {row['version']}  [{levels}]")
        click.echo(f"  custom parameters: {_custom_parameters(row)}")


def _custom_parameters(info: dict[str, Any]) -> str:
    """The custom parameters that pin an LMS link to this version (README, "Add to Moodle")."""
    return f"skillsign_framework={info['identifier']} skillsign_version={info['version']}"


def _version(session: Session, ref: str) -> FrameworkVersion:
    row = framework_service.find_version(session, ref, scope=framework_service.EVERY)
    if row is None:
        _fail(f"no framework version matches {ref!r} (use an id from `skillsign frameworks list`)")
    return row


@frameworks_group.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
@with_appcontext
def frameworks_show(ref: str, as_json: bool) -> None:
    """Show a framework version's levels and statements."""
    with database().transaction() as session:
        row = _version(session, ref)
        info = framework_service.summary(row)
        fw = framework_service.to_model(row)
    if as_json:
        levels = [
            {
                "key": level.key,
                "label": level.label,
                "statements": len(level.statements),
                "items": [
                    {"id": str(st.id), "position": st.position, "text": st.text}
                    for st in level.statements
                ],
            }
            for level in fw.levels
        ]
        custom = {"skillsign_framework": fw.identifier, "skillsign_version": fw.version}
        _echo_json(info | {"levels": levels, "custom_parameters": custom})
        return
    click.echo(f"{fw.title} — {fw.version}\n{fw.identifier}  ({fw.id})")
    click.echo(f"custom parameters: {_custom_parameters(info)}")
    for level in fw.levels:
        click.echo(f"\n{level.label} [{level.key}] — {len(level.statements)} statements")
        for st in level.statements:
            click.echo(f"  {st.position:>2}. {st.text}")


@frameworks_group.command("export")
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(["case", "moodle-csv", "ler"]), required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to a file.")
@with_appcontext
def frameworks_export(ref: str, fmt: str, output: Path | None) -> None:
    """Export a framework version as CASE, Moodle CSV or the seed format."""
    with database().transaction() as session:
        row = _version(session, ref)
        text = framework_service.export(row, fmt, current_app.config["BASE_URL"])  # type: ignore[arg-type]  # click.Choice
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
