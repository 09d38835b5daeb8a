"""Fixtures for grade passback: the tool's keys, an independent platform, a course."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.lti_rows import Course, make_course
from support.services_platform import CLIENT_ID, ISSUER, IndependentPlatform

from keys import KeyKind, KeyStore


@pytest.fixture
def tool_keys(app) -> KeyStore:
    store = KeyStore(app.config["KEYS_DIR"])
    store.ensure(KeyKind.RSA)
    return store


@pytest.fixture
def platform(tool_keys) -> Iterator[IndependentPlatform]:
    running = IndependentPlatform(tool_jwks=tool_keys.public_jwks(KeyKind.RSA)).start()
    yield running
    running.stop()


@pytest.fixture
def course(db, platform) -> Course:
    with db.transaction() as session:
        return make_course(
            session,
            issuer=ISSUER,
            client_id=CLIENT_ID,
            token_url=platform.token_url,
            lineitems_url=platform.lineitems_url,
        )
