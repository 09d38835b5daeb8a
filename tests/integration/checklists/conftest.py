"""Fixtures for the checklist pages: two courses, their people, launch sessions."""

from __future__ import annotations

import pytest
from support.checklist_world import World, make_world


@pytest.fixture
def world(app) -> World:
    return make_world(app)
