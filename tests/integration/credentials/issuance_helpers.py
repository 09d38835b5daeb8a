"""Helpers shared by the credential tests (importable by name: this folder is on sys.path)."""

from __future__ import annotations

from support.lti_rows import Course

from lti_app.db.models import FrameworkLevel

LMS = "https://lms.example.edu"


def level_of(course: Course, key: str = "emerging") -> FrameworkLevel:
    return next(level for level in course.version.levels if level.key == key)
