"""Fixtures: the tool with its built-in demo LMS, served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import pytest
from support.demo_browser import DemoBrowser
from support.servers import serve

from frameworks import bundled_paths, load
from keys import KeyKind, KeyStore
from lti_app.demo import demo_platform, register_with_tool
from lti_app.request_db import database
from lti_app.services.frameworks import import_framework


@pytest.fixture
def stack(app):
    """The tool (with /demo-lms) on 127.0.0.1, set up as `skillsign demo` sets it up."""
    server = serve(app)
    app.config["BASE_URL"] = server.url  # before any request: the demo reads it on first use
    KeyStore(app.config["KEYS_DIR"]).ensure(KeyKind.RSA)
    with database(app).transaction() as session:
        for path in bundled_paths():
            import_framework(session, load(path), "ler")
        register_with_tool(session, server.url)
    yield server
    server.stop()
    demo_platform(app.extensions["skillsign.demo_lms"]).dispose()


@pytest.fixture
def lms(app, stack):
    return demo_platform(app.extensions["skillsign.demo_lms"])


@pytest.fixture
def browser(stack):
    return DemoBrowser(stack.url)
