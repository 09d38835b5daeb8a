"""Fixtures: the tool served on 127.0.0.1 and an independent platform (PyPI lti1p3platform)
that reads the tool's public keys from the tool's JWKS URL, as a real platform does."""

from __future__ import annotations

import pytest
from support.servers import serve
from support.services_platform import IndependentPlatform

from keys import KeyKind, KeyStore


@pytest.fixture
def tool(app):
    server = serve(app)
    app.config["BASE_URL"] = server.url
    KeyStore(app.config["KEYS_DIR"]).ensure(KeyKind.RSA)
    yield server
    server.stop()


@pytest.fixture
def independent(tool):
    platform = IndependentPlatform(tool_jwks_url=f"{tool.url}/.well-known/jwks.json").start()
    yield platform
    platform.stop()
