"""`skillsign demo`: the embedded default, ready to try."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from frameworks import bundled_paths
from keys import KeyKind
from lti_app import migrate
from lti_app.cli.common import fail
from lti_app.cli.frameworks import import_path
from lti_app.cli.keys import store
from lti_app.demo import demo_platform, register_with_tool
from lti_app.demo.seed import DEMO_INSTITUTION, ensure_institution
from lti_app.request_db import database
from lti_app.worker import start_background_worker


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
    demo_lms = app.extensions.get("skillsign.demo_lms")
    if demo_lms is None:
        fail(f"the demo LMS is off in SKILLSIGN_ENV={app.config['ENV']}")
    base_url = app.config["BASE_URL"]
    with database().transaction() as session:
        register_with_tool(session, base_url)
        if ensure_institution(session):
            click.echo(f"issuer profile: {DEMO_INSTITUTION['name']} (edit it under Admin)")
    demo_platform(demo_lms).ensure_ready()  # its keys and course, before the first visitor
    if base_url != f"http://{host}:{port}":
        click.echo(f"note: links and launches use SKILLSIGN_BASE_URL={base_url}")
    worker = start_background_worker(app)  # grade passback, in this process
    click.echo(f"skillsign demo on http://{host}:{port}/")
    click.echo(f"demo LMS (launch from here): {base_url}/demo-lms/")
    try:
        # Flask refuses app.run() inside its own CLI; serve with Werkzeug directly.
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        worker.stop()
