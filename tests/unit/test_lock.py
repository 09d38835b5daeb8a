"""The lock files pin every dependency pyproject.toml declares, at a version it allows.

A dependency added to pyproject.toml without `make lock` fails here, so installs from the lock
(make demo, make test, CI, production) never silently miss it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^\s;]+)(?:\s*;\s*(?P<marker>.+))?$")


def _pins(lock: Path) -> dict[str, str]:
    """name -> version for this interpreter (universal locks carry markers)."""
    env = default_environment()
    pins: dict[str, str] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        m = PIN.match(line.strip())
        if not m:
            continue
        if m["marker"] and not Requirement(f"x; {m['marker']}").marker.evaluate(env):  # type: ignore[union-attr]
            continue
        pins[canonicalize_name(m["name"])] = m["version"]
    return pins


def _declared(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = list(project["dependencies"])
    if extra:
        deps += project["optional-dependencies"][extra]
    return [Requirement(d) for d in deps]


@pytest.mark.parametrize(("lock", "extra"), [("prod.lock", None), ("dev.lock", "dev")])
def test_every_declared_dependency_is_pinned_within_its_range(lock: str, extra: str | None) -> None:
    pins = _pins(REPO / "requirements" / lock)
    problems = []
    for req in _declared(extra):
        if req.marker and not req.marker.evaluate():
            continue
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name} is not in requirements/{lock}")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} is outside {req.specifier}")
    assert not problems, "run `make lock`:\n" + "\n".join(problems)


def test_the_production_lock_holds_no_test_tool() -> None:
    prod = _pins(REPO / "requirements" / "prod.lock")
    tools = {"pytest", "hypothesis", "mypy", "ruff", "playwright", "lti1p3platform"}
    assert not tools & set(prod), sorted(tools & set(prod))
