"""Fixtures for grade passback: the tool's keys, an independent platform, a course."""

from __future__ import annotations

import pytest
from support.lti_rows import Course, make_course
from support.services_platform import CLIENT_ID, ISSUER, IndependentPlatform


@pytest.fixture
def platform(lms: IndependentPlatform) -> IndependentPlatform:
    """The passback tests' name for the shared independent platform (tests/conftest.py)."""
    return lms


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
