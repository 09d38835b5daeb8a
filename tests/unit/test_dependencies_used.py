"""Every runtime dependency in pyproject.toml is imported by the shipped code, or is on the
short list below with the reason it is needed without an import (docs/architecture.md §4:
a declared library nobody uses is one more thing to patch and audit for nothing)."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ("lti_app", "credentials", "keys", "frameworks", "migrations")
USED_WITHOUT_IMPORT = {
    "psycopg": "SQLAlchemy's PostgreSQL driver, chosen by DATABASE_URL",
    "gunicorn": "the production server that runs the app",
    "redis": "flask-limiter's shared store, chosen by SKILLSIGN_RATELIMIT_STORAGE_URI",
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [
        _normal(re.split(r"[<>=~!\[ ;]", spec, maxsplit=1)[0]) for spec in project["dependencies"]
    ]


def _imported_top_levels() -> set[str]:
    found: set[str] = set()
    for package in SHIPPED:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found


def test_every_declared_dependency_is_imported_or_explained() -> None:
    modules_of: dict[str, set[str]] = {}
    for module, dists in packages_distributions().items():
        for dist in dists:
            modules_of.setdefault(_normal(dist), set()).add(module)
    imported = _imported_top_levels()
    declared = _declared()
    assert "flask" in declared and "joserfc" in declared  # the parse found the list
    unused = [
        name
        for name in declared
        if name not in USED_WITHOUT_IMPORT and not modules_of.get(name, set()) & imported
    ]
    assert not unused, f"declared but never imported: {unused}"
    # The exceptions stay exceptions: each is still declared and still not imported.
    for name in USED_WITHOUT_IMPORT:
        assert name in declared, f"{name} is no longer declared: drop it from the list"
        assert not modules_of.get(name, set()) & imported, f"{name} is imported now"
