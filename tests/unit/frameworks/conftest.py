"""Fixtures for the pure frameworks package: the seed file, the CASE schema and
a small builder for frameworks of any shape."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from frameworks import Framework

REPO = Path(__file__).resolve().parents[3]
TEST_DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def seed_path() -> Path:
    # The bundled copy (its published hash is checked in test_framework_loader).
    return REPO / "frameworks" / "data" / "psychiatric-technicians.json"


@pytest.fixture(scope="session")
def seed_bytes(seed_path: Path) -> bytes:
    return seed_path.read_bytes()


@pytest.fixture
def seed_doc(seed_bytes: bytes) -> dict[str, Any]:
    """A fresh parsed copy of the seed, safe to modify."""
    return json.loads(seed_bytes)


@pytest.fixture(scope="session")
def case_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((TEST_DATA / "case-v1p0-cfpackage-schema.json").read_bytes())
    # The file declares no $schema; the CASE 1.0 schemas are written for draft-04.
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
    cls.check_schema(schema)
    checker = jsonschema.FormatChecker()
    # Without these the format checks would silently pass everything.
    assert {"uri", "date-time"} <= set(checker.checkers)
    return cls(schema, format_checker=checker)


Builder = Callable[..., Framework]


@pytest.fixture
def build() -> Builder:
    """build([3, 1, 2]) -> a framework with three levels of 3, 1 and 2 statements."""

    def make(
        counts: Sequence[int] = (2, 3),
        *,
        identifier: str = "urn:example:framework",
        version: str = "2025.1",
        title: str = "Example framework",
        **kwargs: Any,
    ) -> Framework:
        levels = [
            (f"level-{i}", f"Level {i}", [f"Skill {i}.{n} \u2014 does it" for n in range(1, c + 1)])
            for i, c in enumerate(counts, start=1)
        ]
        return Framework.create(identifier, version, title, levels, **kwargs)

    return make
