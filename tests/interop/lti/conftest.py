"""Fixtures for LTI tests: the tool served over real HTTP, an independent platform, a browser."""

from __future__ import annotations

import pytest
from support.lti_platform import Browser, LaunchPlatform
from support.servers import serve

from frameworks import load
from lti_app.request_db import database
from lti_app.services.frameworks import import_framework


@pytest.fixture
def tool(app):
    """The app on 127.0.0.1; BASE_URL is its real address (target_link_uri checks use it)."""
    server = serve(app)
    app.config["BASE_URL"] = server.url
    yield server
    server.stop()


@pytest.fixture
def platform(app, tool):
    launch_platform = LaunchPlatform().start().connect(tool.url)
    launch_platform.platform_id = launch_platform.register_in(app)
    yield launch_platform
    launch_platform.stop()


@pytest.fixture
def browser():
    return Browser()


@pytest.fixture
def seed_version(app, seed_path):
    """The bundled framework, imported; returns (id, identifier, version, level keys)."""
    with app.app_context(), database(app).transaction() as db:
        row = import_framework(db, load(seed_path), "ler").version
        return {
            "id": row.id,
            "identifier": row.identifier,
            "version": row.version,
            "levels": [lv.key for lv in row.levels],
            "counts": {lv.key: len(lv.statements) for lv in row.levels},
        }
