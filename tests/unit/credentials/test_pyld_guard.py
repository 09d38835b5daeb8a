"""credentials/jsonld.py extends pyld's internals: another pyld must fail loudly, not sign wrong."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from pyld.context_resolver import ContextResolver

from credentials import jsonld

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def _declared() -> Requirement:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return next(Requirement(d) for d in deps if Requirement(d).name.lower() == "pyld")


def test_installed_pyld_is_the_one_the_module_was_written_for() -> None:
    installed = metadata.version("pyld")
    assert installed.startswith(jsonld.PYLD_WRITTEN_FOR)
    assert _declared().specifier.contains(installed)
    jsonld.check_pyld()  # what the import ran


def test_pyproject_admits_no_release_outside_the_written_for_series() -> None:
    spec = _declared().specifier
    major, minor = (int(x) for x in jsonld.PYLD_WRITTEN_FOR.rstrip(".").split("."))
    assert not spec.contains(f"{major}.{minor + 1}.0")
    assert not spec.contains(f"{major + 1}.0.0")
    assert not spec.contains(f"{major}.{minor - 1}.9")


def test_another_version_is_refused_with_what_to_do() -> None:
    with pytest.raises(ImportError, match=r"pyld 3\.4\.0 is installed.*PYLD_WRITTEN_FOR"):
        jsonld.check_pyld("3.4.0")


def test_a_changed_internal_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def _get(self, name):  # the parameter renamed
        return None

    monkeypatch.setattr(ContextResolver, "_get", _get)
    with pytest.raises(ImportError, match=r"ContextResolver\._get: no parameter key"):
        jsonld.check_pyld()


def test_a_removed_internal_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(ContextResolver, "_cache_resolved_context")
    with pytest.raises(ImportError, match=r"_cache_resolved_context: it is gone"):
        jsonld.check_pyld()
