from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from frameworks import (
    FrameworkError,
    bundled_paths,
    detect_format,
    load,
    read_ler,
    write_case,
)


def test_bundled_seed_is_a_byte_for_byte_copy() -> None:
    paths = bundled_paths()
    assert [p.name for p in paths] == ["psychiatric-technicians.json"]
    # SHA-256 of the file as its publisher exports it (tests/data/SOURCES.md).
    published = "bcae3b42ea12bb4917b0428014620215061cbeba8e0691c6a775c693be31c88d"
    assert hashlib.sha256(paths[0].read_bytes()).hexdigest() == published
    # Package data, so it ships with the wheel.
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())
    assert "data/*.json" in pyproject["tool"]["setuptools"]["package-data"]["frameworks"]


def test_load_accepts_every_kind_of_source(seed_path: Path, seed_bytes: bytes) -> None:
    expected = read_ler(seed_bytes)
    assert load(seed_path) == expected
    assert load(str(seed_path)) == expected
    assert load(seed_bytes) == expected
    assert load(seed_bytes.decode()) == expected
    assert load("\n  " + seed_bytes.decode()) == expected
    assert load(json.loads(seed_bytes)) == expected


def test_load_detects_case(seed_bytes: bytes, tmp_path: Path) -> None:
    fw = read_ler(seed_bytes)
    package = write_case(fw, "https://tool.example.org")
    path = tmp_path / "package.json"
    path.write_text(json.dumps(package), encoding="utf-8")
    assert detect_format(package) == "case"
    assert detect_format(json.loads(seed_bytes)) == "ler"
    assert load(path) == fw


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(FrameworkError) as info:
        load(missing)
    assert str(info.value) == f"$: file not found: {missing}"
    assert [e.path for e in info.value.errors] == ["$"]


def test_directory_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(FrameworkError, match=r"^\$: is a directory, not a file"):
        load(tmp_path)
    with pytest.raises(FrameworkError) as info:
        load({"title": "neither"})
    assert str(info.value).startswith("$: unrecognised framework format")
    with pytest.raises(FrameworkError, match=r"^\$: expected a JSON object, got a list$"):
        load(b"[1]")


def test_reader_errors_pass_through(tmp_path: Path, seed_bytes: bytes) -> None:
    doc = json.loads(seed_bytes)
    doc["framework"]["levels"]["emerging"]["statements"] = []
    path = tmp_path / "bad.json"
    path.write_bytes(json.dumps(doc).encode())
    with pytest.raises(FrameworkError) as info:
        load(path)
    assert str(info.value) == (
        "framework.levels.emerging.statements: expected at least one statement"
    )
    path.write_bytes(b'{"schemaVersion": "1.0"')
    with pytest.raises(FrameworkError, match=r"^\$: invalid JSON: .* at line 1 column 24$"):
        load(path)
