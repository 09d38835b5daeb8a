"""Arrows inside lti_app point one way: views → lti → services → lms (docs/architecture.md §1).

``lti_app/services/**`` and ``lti_app/lms/**`` are Flask-free: no module they reach through
lti_app imports (followed transitively, function-level imports included) imports a web
framework, and none of them is in ``lti_app.lti`` or ``lti_app.views``. ``lti_app/lms/**``
also reaches nothing in ``lti_app.services``. The root ``lti_app/__init__.py`` (the app
factory) is left out: Python runs it for any ``lti_app.x``, but it is wiring, not a layer.
"""

from __future__ import annotations

import ast
from collections import deque
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "lti_app"
WEB = ("flask", "werkzeug", "flask_babel", "flask_wtf", "flask_limiter")
ABOVE = ("lti_app.lti", "lti_app.views")


def _module_file(name: str, root: Path = REPO) -> Path | None:
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path, root: Path = REPO) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


@cache
def _imports(path: Path, root: Path = REPO) -> tuple[tuple[int, str], ...]:
    """Every module a file imports: ``from a import b`` counts as ``a`` and, when it is a
    module, ``a.b``; relative imports are resolved against the file's package."""
    package = _module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            prefix = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*prefix, *([node.module] if node.module else [])])
            found.append((node.lineno, module))
            found += [
                (node.lineno, f"{module}.{alias.name}")
                for alias in node.names
                if _module_file(f"{module}.{alias.name}", root) is not None
            ]
    return tuple(found)


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _reach(start: Path, stop: tuple[str, ...], root: Path = REPO) -> dict[str, tuple[str, ...]]:
    """Each lti_app module reachable from ``start`` with the shortest import chain to it;
    modules in ``stop`` are reported but not followed (one finding, not its whole tree)."""
    chains: dict[str, tuple[str, ...]] = {_module_name(start, root): (_module_name(start, root),)}
    todo = deque([start])
    while todo:
        path = todo.popleft()
        here = chains[_module_name(path, root)]
        for line, name in _imports(path, root):
            # Importing lti_app.x.y also runs lti_app.x's __init__ (the root excepted).
            parts = name.split(".")
            for depth in range(2, len(parts) + 1):
                target = ".".join(parts[:depth])
                file = _module_file(target, root)
                if parts[0] != "lti_app" or file is None or target in chains:
                    continue
                chains[target] = (*here, f"{target} (line {line} of {_module_name(path, root)})")
                if not _within(target, stop):
                    todo.append(file)
    return chains


def _violations(layer: str, forbidden_modules: tuple[str, ...], root: Path = REPO) -> list[str]:
    files = sorted((root / "lti_app" / layer).rglob("*.py"))
    assert files, f"lti_app/{layer}/ has no modules"
    bad: list[str] = []
    for path in files:
        for name, chain in _reach(path, forbidden_modules, root).items():
            file = _module_file(name, root)
            assert file is not None
            if _within(name, forbidden_modules):
                bad.append(" → ".join(chain))
                continue
            for line, imported in _imports(file, root):
                if imported.split(".")[0] in WEB:
                    bad.append(" → ".join((*chain, f"{imported} (line {line})")))
    return sorted(set(bad))


@pytest.mark.parametrize("layer", ["services", "lms"])
def test_services_and_lms_reach_no_web_framework_and_nothing_above(layer: str) -> None:
    bad = _violations(layer, ABOVE)
    assert not bad, "\n".join(bad)


def test_lms_reaches_nothing_in_services() -> None:
    bad = _violations("lms", ("lti_app.services",))
    assert not bad, "\n".join(bad)


def test_the_walk_catches_relative_function_level_and_indirect_imports(tmp_path: Path) -> None:
    # The rules above can only pass honestly if the walk can fail: build a small tree that
    # breaks each rule in a way a line-by-line grep would miss.
    files = {
        "lti_app/__init__.py": "import flask\n",  # the factory: not a layer, not followed
        "lti_app/helpers.py": "from werkzeug.utils import secure_filename\n",
        "lti_app/lti/__init__.py": "",
        "lti_app/lti/roles.py": "ROLES = ()\n",
        "lti_app/services/__init__.py": "",
        "lti_app/services/a.py": "def f():\n    from . import b\n",
        "lti_app/services/b.py": "from ..lti import roles\nfrom lti_app import helpers\n",
        "lti_app/services/clean.py": "import json\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    bad = _violations("services", ABOVE, tmp_path)
    assert any(
        v.startswith("lti_app.services.a → lti_app.services.b") and "lti_app.lti.roles" in v
        for v in bad
    ), bad
    assert any("lti_app.helpers" in v and v.endswith("werkzeug.utils (line 1)") for v in bad), bad
    assert not any(v.startswith("lti_app.services.clean") for v in bad), bad
    assert not any("lti_app (line" in v or v.endswith("flask (line 1)") for v in bad), bad
