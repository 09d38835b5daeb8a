from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import uuid

import pytest

from frameworks import (
    NAMESPACE,
    Framework,
    FrameworkError,
    Level,
    Statement,
    level_id,
    split_statement,
    statement_id,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Listening \u2014 apply it daily", ("Listening", "apply it daily")),
        ("A \u2014 B \u2014 C", ("A", "B \u2014 C")),  # first separator only
        ("No separator here", ("No separator here", None)),
        ("Hyphen - is not a separator", ("Hyphen - is not a separator", None)),
        ("Tight\u2014dash", ("Tight\u2014dash", None)),  # needs the spaces
        ("Trailing \u2014 ", ("Trailing", "")),
    ],
)
def test_split_statement(text: str, expected: tuple[str, str | None]) -> None:
    assert split_statement(text) == expected


def test_ids_are_uuid5_of_identity_version_key_position() -> None:
    a = statement_id("urn:x", "1", "emerging", 3)
    assert a == statement_id("urn:x", "1", "emerging", 3)
    assert a.version == 5
    others = {
        statement_id("urn:x", "2", "emerging", 3),
        statement_id("urn:y", "1", "emerging", 3),
        statement_id("urn:x", "1", "developing", 3),
        statement_id("urn:x", "1", "emerging", 4),
        level_id("urn:x", "1", "emerging"),
    }
    assert a not in others
    assert len(others) == 5


def test_framework_id_follows_the_documented_formula(build) -> None:
    fw = build(identifier="onet-soc:29-2053.00", version="v.26.05")
    assert fw.id == uuid.uuid5(NAMESPACE, "onet-soc:29-2053.00\nv.26.05")
    assert uuid.uuid5(uuid.NAMESPACE_URL, "https://skillsign.dev/ns/frameworks") == NAMESPACE


def test_create_derives_ids_positions_and_splits(build) -> None:
    fw = build([3, 1])
    assert [level.key for level in fw.levels] == ["level-1", "level-2"]
    first = fw.levels[0]
    assert first.id == level_id(fw.identifier, fw.version, "level-1")
    assert [s.position for s in first.statements] == [1, 2, 3]
    assert first.statements[2].id == statement_id(fw.identifier, fw.version, "level-1", 3)
    assert first.statements[0].competency == "Skill 1.1"
    assert first.statements[0].performance == "does it"
    assert len(fw.statements) == 4
    assert fw.statements[-1].level_key == "level-2"


def test_lookup_by_key_and_id(build) -> None:
    fw = build([2, 2])
    target = fw.levels[1].statements[1]
    assert fw.level("level-2") is fw.levels[1]
    assert fw.statement(target.id) is target
    assert fw.statement(str(target.id)) is target
    with pytest.raises(KeyError, match="no level 'missing'"):
        fw.level("missing")
    with pytest.raises(KeyError, match="no statement"):
        fw.statement(uuid.uuid4())


def test_extra_is_frozen_and_compares_by_value(build) -> None:
    source = {"occupation": {"soc": "1", "tags": ["a", "b"]}, "n": 1}
    fw = build(extra=source)
    source["occupation"]["soc"] = "changed"  # the framework kept a deep copy
    assert fw.extra["occupation"]["soc"] == "1"
    with pytest.raises(TypeError):
        fw.extra["n"] = 2  # type: ignore[index]
    with pytest.raises(TypeError):
        fw.extra["occupation"]["soc"] = "x"  # type: ignore[index]
    twin = build(extra={"occupation": {"soc": "1", "tags": ["a", "b"]}, "n": 1})
    assert fw == twin
    assert hash(fw) == hash(twin)
    assert fw != build(extra={"occupation": {"soc": "2", "tags": ["a", "b"]}, "n": 1})


def test_framework_pickles_copies_and_serialises(build) -> None:
    fw = build([2, 1], extra={"occupation": {"soc": "1", "tags": ["a"]}})
    assert pickle.loads(pickle.dumps(fw)) == fw
    assert copy.deepcopy(fw) == fw
    assert json.loads(json.dumps(fw.extra)) == {"occupation": {"soc": "1", "tags": ["a"]}}
    assert dataclasses.asdict(fw)["extra"] == fw.extra


def test_framework_is_immutable(build) -> None:
    fw = build()
    with pytest.raises(dataclasses.FrozenInstanceError):
        fw.title = "x"  # type: ignore[misc]
    assert isinstance(fw.levels, tuple)
    assert isinstance(fw.levels[0].statements, tuple)


def test_create_collects_every_problem() -> None:
    with pytest.raises(FrameworkError) as info:
        Framework.create(
            "two\nlines",
            "",
            "Title",
            [("a", "A", ["ok"]), ("a", " ", ["  "]), ("b", "B", [])],
        )
    assert [str(e) for e in info.value.errors] == [
        "identifier: must be a single line",
        "version: expected a non-empty string",
        "levels[1].key: duplicate level key 'a'",
        "levels[1].label: expected text, got only whitespace",
        "levels[1].statements[0].text: expected text, got only whitespace",
        "levels[2].statements: expected at least one statement",
    ]


def test_constructor_rejects_ids_that_are_not_derived(build) -> None:
    fw = build([1])
    level = fw.levels[0]
    forged = Statement(uuid.uuid4(), level.key, 1, "text")
    with pytest.raises(FrameworkError) as info:
        dataclasses.replace(fw, levels=(Level(level.id, level.key, level.label, (forged,)),))
    assert str(info.value) == (
        "levels[0].statements[0].id: does not match the id derived from identifier, version, "
        "key and position (1 ids differ; build frameworks with Framework.create)"
    )
    with pytest.raises(FrameworkError, match=r"^levels\[0\]\.id: .*\(2 ids differ"):
        dataclasses.replace(fw, identifier="urn:moved")
    with pytest.raises(FrameworkError, match="levels: expected at least one level"):
        dataclasses.replace(fw, levels=())


def test_text_is_kept_exactly() -> None:
    decomposed = "Cafe\u0301 \u2014 serve\u00a0"  # NFD e + combining acute, trailing NBSP
    fw = Framework.create("urn:x", "1", " Title ", [("k", "L", [decomposed])])
    assert fw.title == " Title "
    assert fw.statements[0].text == decomposed
    assert fw.statements[0].performance == "serve\u00a0"


@pytest.mark.parametrize("bad", ["nul\x00byte", "lone \ud800 surrogate"])
def test_text_that_a_database_or_utf8_cannot_hold_is_rejected(bad: str) -> None:
    with pytest.raises(FrameworkError, match=r"levels\[0\]\.statements\[0\]\.text"):
        Framework.create("urn:x", "1", "T", [("k", "L", [bad])])
