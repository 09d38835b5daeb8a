"""Helpers shared by the credential tests (importable by name: this folder is on sys.path)."""

from __future__ import annotations

from datetime import timedelta

from support.lti_rows import Course

from credentials.timefmt import now_utc
from lti_app.db.models import Credential, FrameworkLevel, User
from lti_app.services import awarding

LMS = "https://lms.example.edu"


def level_of(course: Course, key: str = "emerging") -> FrameworkLevel:
    return next(level for level in course.version.levels if level.key == key)


def issue_backdated(db, learner_id: int, level_id, *, valid_days: int, age_days: int) -> Credential:
    """A credential for a level valid ``valid_days`` days, issued ``age_days`` days ago."""
    with db.transaction() as session:
        level = session.get(FrameworkLevel, level_id)
        level.credential_valid_days = valid_days
        credential = awarding.issue(
            session,
            learner=session.get(User, learner_id),
            level=level,
            context_id=None,
            actor_id=None,
            now=now_utc() - timedelta(days=age_days),
        )
    assert credential is not None
    return credential
