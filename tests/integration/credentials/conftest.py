"""Fixtures for issuing credentials: a course on the seed framework, and sign-off helpers
that go through the real sign-off service."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from issuance_helpers import LMS, level_of
from support.lti_rows import Course, make_course

from lti_app import create_app
from lti_app.db.models import Credential, User
from lti_app.services import signoffs


@pytest.fixture
def course(db) -> Course:
    with db.transaction() as session:
        made = make_course(
            session,
            issuer=LMS,
            client_id="client-1",
            token_url=f"{LMS}/token",
            lineitems_url=None,
            learners=3,
        )
        # Loaded now, so tests can read levels and statements after the session closes.
        for level in made.version.levels:
            assert level.statements
        return made


@pytest.fixture
def sign_level(db, course) -> Callable[..., signoffs.SignResult]:
    """Sign statements of a level for a learner as the course's instructor (default: all)."""

    def run(
        learner: User,
        key: str = "emerging",
        positions: list[int] | None = None,
        note: str | None = None,
        database: Any = None,
    ) -> signoffs.SignResult:
        level = level_of(course, key)
        wanted = [st.id for st in level.statements if positions is None or st.position in positions]
        with (database or db).transaction() as session:
            return signoffs.sign(
                session,
                actor_id=course.instructor.id,
                context_id=course.context.id,
                learner_ids=[learner.id],
                statement_ids=wanted,
                note=note,
            )

    return run


@pytest.fixture
def issued(db, course, sign_level) -> Credential:
    """The first learner's credential for the emerging level."""
    (credential,) = sign_level(course.learners[0]).credentials
    return credential


@pytest.fixture
def make_app(app, database_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Another app on the same database (the ``app`` fixture empties it afterwards), with
    settings of the test's choosing, e.g. ISSUER_DID="web"."""
    made: list[Any] = []

    def build(**overrides: Any) -> Any:
        settings = {
            "ENV": "test",
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path / f"instance-{len(made)}"),
            "SECRET_KEY": "test-secret-" + secrets.token_hex(8),
            "BASE_URL": "http://localhost",
            "KEYS_DIR": app.config["KEYS_DIR"],
            "VERIFY_FETCH_REMOTE": False,
        }
        settings.update(overrides)
        other = create_app(settings)
        made.append(other)
        return other

    yield build
    for other in made:
        other.extensions["skillsign.db"].dispose()


@pytest.fixture
def postgres(db) -> None:
    if db.dialect != "postgresql":
        pytest.skip("needs PostgreSQL (set SKILLSIGN_TEST_DATABASE_URL)")
