"""The published material in tests/data is what SOURCES.md says it is, byte for byte."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
ROW = re.compile(r"^\| `(?P<name>[^`]+)` \|.*\| `(?P<sha>[0-9a-f]{64})` \|$")


def test_every_file_is_listed_with_its_hash() -> None:
    rows = {
        m["name"]: m["sha"]
        for line in (DATA / "SOURCES.md").read_text(encoding="utf-8").splitlines()
        if (m := ROW.match(line))
    }
    files = {p.name for p in DATA.iterdir() if p.name != "SOURCES.md"}
    assert files == set(rows), "every file in tests/data needs a row in SOURCES.md, and back"
    for name, sha in rows.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == sha, name
