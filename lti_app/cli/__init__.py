"""The ``skillsign`` command: a FlaskGroup over ``create_app``.

Each area's commands live in their own module; ``register_commands`` adds them
to ``app.cli``, where both ``skillsign`` and ``app.test_cli_runner()`` find them.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def register_commands(app: Flask) -> None:
    from lti_app.cli.admins import admins_group
    from lti_app.cli.credentials import credentials_group, verify_command
    from lti_app.cli.db import db_group
    from lti_app.cli.demo import demo
    from lti_app.cli.frameworks import frameworks_group
    from lti_app.cli.keys import keys_group
    from lti_app.cli.platforms import platforms_group
    from lti_app.cli.roster import roster_group
    from lti_app.cli.sessions import sessions_group
    from lti_app.cli.signoffs import signoffs_group
    from lti_app.cli.translations import translations_group
    from lti_app.cli.worker import outbox_group, worker_command

    for command in (
        db_group,
        demo,
        frameworks_group,
        keys_group,
        worker_command,
        outbox_group,
        roster_group,
        sessions_group,
        platforms_group,
        admins_group,
        translations_group,
        credentials_group,
        verify_command,
        signoffs_group,
    ):
        app.cli.add_command(command)


def _app() -> Flask:
    from lti_app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_app, add_version_option=False)
def main() -> None:
    """skillsign: competency checklists and Open Badges 3.0 credentials over LTI 1.3."""
