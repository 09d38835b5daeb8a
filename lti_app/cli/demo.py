"""`skillsign demo`: the embedded default, ready to try."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from frameworks import bundled_paths
from keys import KeyKind
from lti_app import migrate
from lti_app.cli.frameworks import import_path
from lti_app.cli.keys import store


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@with_appcontext
def demo(host: str, port: int) -> None:
    """Set up the embedded default (SQLite, dev keys, seed framework) and serve it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.upgrade(app.config["DATABASE_URL"])
    for path in bundled_paths():
        info, _created = import_path(path)
        click.echo(f"framework {info['title']} {info['version']} ready")
    for kind in KeyKind:
        store().ensure(kind)
    click.echo(f"skillsign demo on http://{host}:{port}/")
    # Flask refuses app.run() inside its own CLI; serve with Werkzeug directly.
    run_simple(host, port, app, threaded=True, use_reloader=False)
