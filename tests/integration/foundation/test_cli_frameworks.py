"""`skillsign frameworks ...` against a real, migrated database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lti_app.db.models import FrameworkLevel, FrameworkVersion, Statement


def _counts(db) -> tuple[int, int, int]:
    with db.transaction() as s:
        return (
            s.scalar(select(func.count()).select_from(FrameworkVersion)),
            s.scalar(select(func.count()).select_from(FrameworkLevel)),
            s.scalar(select(func.count()).select_from(Statement)),
        )


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _framework(levels: dict[str, list[str]], version: str = "1.0", soc: str = "11-1111.00") -> dict:
    return {
        "schemaVersion": "1.0",
        "occupation": {"soc": soc, "title": "Test Occupation"},
        "framework": {
            "version": version,
            "description": "",
            "contextCovered": "",
            "levels": {k: {"label": k.title(), "statements": v} for k, v in levels.items()},
        },
    }


def test_import_seed_json_output_and_rows(runner, db, seed_path):
    result = runner.invoke(args=["frameworks", "import", str(seed_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["title"] == "Psychiatric Technicians"
    assert data["version"] == "v.26.05"
    assert [lv["key"] for lv in data["levels"]] == [
        "emerging",
        "developing",
        "proficient",
        "advanced",
    ]
    assert all(lv["statements"] == 10 for lv in data["levels"])
    assert set(data) >= {"id", "version", "title", "levels"}
    assert _counts(db) == (1, 4, 40)


def test_import_is_idempotent(runner, db, seed_path):
    first = runner.invoke(args=["frameworks", "import", str(seed_path), "--json"])
    second = runner.invoke(args=["frameworks", "import", str(seed_path), "--json"])
    assert first.exit_code == second.exit_code == 0
    assert json.loads(first.output)["id"] == json.loads(second.output)["id"]
    assert json.loads(second.output)["created"] is False
    assert _counts(db) == (1, 4, 40)


def test_new_version_is_kept_beside_the_old(runner, db, tmp_path):
    v1 = _write(tmp_path, "v1.json", _framework({"a": ["x — y"], "b": ["z"]}, version="1"))
    v2 = _write(tmp_path, "v2.json", _framework({"a": ["x — y"], "b": ["z", "w"]}, version="2"))
    assert runner.invoke(args=["frameworks", "import", str(v1)]).exit_code == 0
    assert runner.invoke(args=["frameworks", "import", str(v2)]).exit_code == 0
    listed = json.loads(runner.invoke(args=["frameworks", "list", "--json"]).output)
    assert sorted(item["version"] for item in listed) == ["1", "2"]
    assert _counts(db) == (2, 4, 5)


def test_changed_content_under_same_version_is_refused(runner, db, tmp_path):
    v1 = _write(tmp_path, "v1.json", _framework({"a": ["one"]}, version="1"))
    changed = _write(tmp_path, "v1b.json", _framework({"a": ["one", "two"]}, version="1"))
    assert runner.invoke(args=["frameworks", "import", str(v1)]).exit_code == 0
    result = runner.invoke(args=["frameworks", "import", str(changed)])
    assert result.exit_code != 0
    assert "new version" in result.output
    assert _counts(db) == (1, 1, 1)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),
        ('{"schemaVersion": "1.0", ', "$"),
        (_framework({"a": []}), "framework.levels.a.statements"),
        (_framework({"a": ["ok", ["nested"]]}), "framework.levels.a.statements[1]"),
        (
            '{"schemaVersion":"1.0","occupation":{"soc":"1","title":"T"},"framework":{"version":"1",'
            '"levels":{"a":{"label":"A","statements":["x"]},"a":{"label":"B","statements":["y"]}}}}',
            "duplicate",
        ),
        ({"schemaVersion": "1.0", "framework": "not an object"}, "framework"),
    ],
    ids=[
        "missing-file",
        "invalid-json",
        "empty-level",
        "wrong-type",
        "duplicate-key",
        "wrong-shape",
    ],
)
def test_bad_input_fails_cleanly_and_writes_nothing(runner, db, tmp_path, content, expected):
    path = tmp_path / "missing.json" if content is None else _write(tmp_path, "bad.json", content)
    result = runner.invoke(args=["frameworks", "import", str(path)])
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output
    assert _counts(db) == (0, 0, 0)


def test_any_shape_imports(runner, db, tmp_path):
    levels = {
        f"niveau-{i}": [f"Compétence {i}.{j} — 実行する ✓" for j in range(i + 1)] for i in range(7)
    }
    path = _write(tmp_path, "seven.json", _framework(levels))
    result = runner.invoke(args=["frameworks", "import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    counts = [lv["statements"] for lv in json.loads(result.output)["levels"]]
    assert counts == list(range(1, 8))
    assert _counts(db) == (1, 7, sum(range(1, 8)))


def test_show_and_exports(runner, seed_path):
    out = json.loads(runner.invoke(args=["frameworks", "import", str(seed_path), "--json"]).output)
    shown = runner.invoke(args=["frameworks", "show", out["id"]])
    assert shown.exit_code == 0
    assert "Emerging [emerging] — 10 statements" in shown.output

    ler = runner.invoke(args=["frameworks", "export", out["id"], "--format", "ler"])
    assert json.loads(ler.output) == json.loads(seed_path.read_text(encoding="utf-8"))

    case = runner.invoke(args=["frameworks", "export", out["id"], "--format", "case"])
    package = json.loads(case.output)
    assert package["CFDocument"]["identifier"] == out["id"]

    csv_out = runner.invoke(args=["frameworks", "export", out["id"], "--format", "moodle-csv"])
    header = csv_out.output.splitlines()[0]
    assert header.count(",") == 13
    assert header.startswith('"Parent id number"') or header.startswith("Parent id number")


def test_case_export_imports_back_as_the_same_version(runner, db, seed_path, tmp_path):
    out = json.loads(runner.invoke(args=["frameworks", "import", str(seed_path), "--json"]).output)
    case_path = tmp_path / "case.json"
    runner.invoke(
        args=["frameworks", "export", out["id"], "--format", "case", "-o", str(case_path)]
    )
    again = runner.invoke(args=["frameworks", "import", str(case_path), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["id"] == out["id"]
    assert json.loads(again.output)["created"] is False
    assert _counts(db) == (1, 4, 40)


def test_show_unknown_reference(runner):
    result = runner.invoke(args=["frameworks", "show", "no-such-framework"])
    assert result.exit_code == 1
    assert "no framework version matches" in result.output


def test_list_import_and_show_give_the_identifier_custom_parameters_name(runner, db, seed_path):
    """README "Add to Moodle": skillsign_framework=<framework identifier>. Every command
    that names a version gives that identifier, and the parameters to paste."""
    imported = json.loads(
        runner.invoke(args=["frameworks", "import", str(seed_path), "--json"]).output
    )
    assert imported["identifier"] == "onet-soc:29-2053.00"
    listed = json.loads(runner.invoke(args=["frameworks", "list", "--json"]).output)
    assert [row["identifier"] for row in listed] == ["onet-soc:29-2053.00"]
    text = runner.invoke(args=["frameworks", "list"]).output
    assert "skillsign_framework=onet-soc:29-2053.00 skillsign_version=v.26.05" in text
    shown = runner.invoke(args=["frameworks", "show", imported["id"], "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["identifier"] == "onet-soc:29-2053.00" and data["id"] == imported["id"]
    assert data["custom_parameters"] == {
        "skillsign_framework": "onet-soc:29-2053.00",
        "skillsign_version": "v.26.05",
    }
    assert [len(lv["items"]) for lv in data["levels"]] == [10, 10, 10, 10]
    assert data["levels"][0]["items"][0]["position"] == 1
    plain = runner.invoke(args=["frameworks", "show", "onet-soc:29-2053.00"]).output
    assert "custom parameters: skillsign_framework=onet-soc:29-2053.00" in plain


def test_a_uuid_with_its_own_version_is_accepted_and_another_version_refused(runner, db, seed_path):
    from lti_app.services import launches

    imported = json.loads(
        runner.invoke(args=["frameworks", "import", str(seed_path), "--json"]).output
    )
    version_id = imported["id"]
    with db.transaction() as session:
        # A CLI import is published for every platform: any platform id may use it.
        for version in (None, "v.26.05", " v.26.05 "):
            choice = launches.resolve_choice(session, 1, version_id, version, "emerging")
            assert str(choice.version.id) == version_id
            assert choice.level_keys == ["emerging"]
        with pytest.raises(launches.LinkChoiceError) as refused:
            launches.resolve_choice(session, 1, version_id, "v.25.01", None)
    assert str(refused.value) == (
        f"the framework version {version_id} is onet-soc:29-2053.00 version 'v.26.05', "
        "not 'v.25.01': set skillsign_version=v.26.05 or leave it out"
    )
