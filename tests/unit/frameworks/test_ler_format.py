from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from frameworks import Framework, FrameworkError, read_ler, split_statement, write_ler
from frameworks.ler import SOC_PREFIX

SEP = " \u2014 "


def errors_of(data: Any) -> list[str]:
    with pytest.raises(FrameworkError) as info:
        read_ler(data)
    return [str(e) for e in info.value.errors]


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


# --- the seed ---------------------------------------------------------------


def test_seed_reads_four_levels_of_ten(seed_bytes: bytes, seed_doc: dict) -> None:
    fw = read_ler(seed_bytes)
    assert fw.identifier == SOC_PREFIX + seed_doc["occupation"]["soc"]
    assert fw.version == seed_doc["framework"]["version"]
    assert fw.title == seed_doc["occupation"]["title"]
    assert fw.context_covered == seed_doc["framework"]["contextCovered"]
    levels = seed_doc["framework"]["levels"]
    assert [level.key for level in fw.levels] == list(levels)
    assert [level.label for level in fw.levels] == [v["label"] for v in levels.values()]
    assert [len(level.statements) for level in fw.levels] == [10, 10, 10, 10]
    for level in fw.levels:
        assert [s.text for s in level.statements] == levels[level.key]["statements"]
    assert len({s.id for s in fw.statements}) == 40


def test_seed_statements_split_into_competency_and_performance(seed_bytes: bytes) -> None:
    fw = read_ler(seed_bytes)
    first = fw.level("emerging").statements[0]
    assert first.competency == (
        "Personal care routines for patients with cognitive or developmental disabilities"
    )
    assert first.performance is not None
    assert first.performance.startswith("perform under direct supervision")
    for s in fw.statements:
        assert s.performance is not None
        assert f"{s.competency}{SEP}{s.performance}" == s.text


def test_seed_ids_are_stable_and_versioned(seed_bytes: bytes, seed_doc: dict) -> None:
    once, twice = read_ler(seed_bytes), read_ler(seed_bytes.decode())
    assert once == twice
    assert [s.id for s in once.statements] == [s.id for s in twice.statements]
    assert once.id == twice.id

    seed_doc["framework"]["version"] = "v.27.01"
    newer = read_ler(seed_doc)
    assert newer.identifier == once.identifier
    assert newer.id != once.id
    assert not {s.id for s in newer.statements} & {s.id for s in once.statements}
    assert [s.text for s in newer.statements] == [s.text for s in once.statements]


def test_seed_round_trip_is_lossless(seed_bytes: bytes) -> None:
    written = write_ler(read_ler(seed_bytes))
    expected = json.loads(seed_bytes)
    assert written == expected
    # Same key order at every level, so the file comes back byte for byte.
    assert list(written) == list(expected)
    assert list(written["framework"]) == list(expected["framework"])
    assert list(written["framework"]["levels"]) == list(expected["framework"]["levels"])
    assert json.dumps(written, ensure_ascii=False, separators=(",", ":")).encode() == seed_bytes


def test_extra_keeps_everything_the_model_has_no_field_for(seed_bytes: bytes) -> None:
    fw = read_ler(seed_bytes)
    assert set(fw.extra) == {"exportedAt", "occupation", "sources", "attribution"}
    assert fw.extra["occupation"]["jobZone"] == 3
    assert fw.extra["attribution"] == "\u00a9 EBSCOed"


# --- other shapes -----------------------------------------------------------

UNICODE_TEXTS = [
    "看護記録の作成 — 電子カルテに正確に記録する",
    "قياس العلامات الحيوية — تسجيلها بدقة تحت إشراف",
    "טיפול במטופלים — בהשגחה ישירה",
    "Emoji care 🧠👩🏽‍⚕️ — with a ZWJ sequence",
    "Cafe\u0301 service (decomposed) — keeps its combining mark",
    "Ω≈ç√ — ∫˜µ≤≥÷",
    "No separator: just a competency",
    'Commas, "quotes" and\nnewlines — survive',
]


def custom_doc(counts: list[int], *, prefix: str) -> dict:
    levels = {}
    for i, count in enumerate(counts):
        key = f"{prefix}-{i}" if i % 2 else f"レベル{i}"
        statements = [UNICODE_TEXTS[(i + n) % len(UNICODE_TEXTS)] + f" #{n}" for n in range(count)]
        levels[key] = {"label": f"Étape {i} ✦", "statements": statements}
    return {
        "schemaVersion": "1.0",
        "identifier": f"urn:example:{prefix}",
        "framework": {"version": "1", "title": f"{prefix} framework", "levels": levels},
    }


@pytest.mark.parametrize(
    ("counts", "prefix"), [([3, 1, 5], "three"), ([2, 7, 1, 4, 1, 9, 3], "seven")]
)
def test_frameworks_of_any_shape_and_script(counts: list[int], prefix: str) -> None:
    doc = custom_doc(counts, prefix=prefix)
    fw = read_ler(dumps(doc))
    assert fw.identifier == f"urn:example:{prefix}"
    assert fw.title == f"{prefix} framework"
    assert [len(level.statements) for level in fw.levels] == counts
    assert [level.key for level in fw.levels] == list(doc["framework"]["levels"])
    for level in fw.levels:
        texts = doc["framework"]["levels"][level.key]["statements"]
        assert [s.text for s in level.statements] == texts  # byte-exact, not normalised
        for s in level.statements:
            assert (s.competency, s.performance) == split_statement(s.text)
    assert read_ler(write_ler(fw)) == fw
    assert write_ler(fw) == doc | {
        "framework": doc["framework"] | {"description": "", "contextCovered": ""}
    }


def test_identifier_from_id_key_and_title_precedence() -> None:
    doc = {
        "schemaVersion": "1.0",
        "id": "urn:example:by-id",
        "occupation": {"title": "Occupation title"},
        "framework": {
            "version": "2",
            "title": "Framework title",
            "levels": {"only": {"label": "Only", "statements": ["One"]}},
        },
    }
    fw = read_ler(doc)
    assert fw.identifier == "urn:example:by-id"
    assert fw.title == "Framework title"
    assert fw.statements[0].performance is None
    again = read_ler(write_ler(fw))
    assert again == fw


def test_unknown_framework_keys_are_kept(seed_doc: dict) -> None:
    seed_doc["framework"]["customField"] = {"a": [1, 2]}
    fw = read_ler(seed_doc)
    assert fw.extra["framework"] == {"customField": {"a": (1, 2)}}
    assert write_ler(fw) == seed_doc


def test_writer_refuses_extra_that_contradicts_the_model(seed_bytes: bytes) -> None:
    fw = read_ler(seed_bytes)
    levels = [(lv.key, lv.label, [s.text for s in lv.statements]) for lv in fw.levels]
    moved = Framework.create("urn:other", fw.version, fw.title, levels, extra=dict(fw.extra))
    with pytest.raises(ValueError) as info:
        write_ler(moved)
    assert str(info.value) == (
        "extra cannot be written as a skills-framework document: "
        'extra.occupation.soc: names the identifier "onet-soc:29-2053.00", not "urn:other"'
    )
    odd = Framework.create(
        "urn:x", "1", "T", levels, extra={"schemaVersion": "1.0", "framework": {"levels": 1}}
    )
    with pytest.raises(ValueError) as info:
        write_ler(odd)
    assert str(info.value).endswith(
        "extra.schemaVersion: is set by the writer; extra.framework.levels: is held by the model"
    )
    retitled = dataclasses.replace(fw, title="Psych techs")
    assert write_ler(retitled)["framework"]["title"] == "Psych techs"
    assert read_ler(write_ler(retitled)) == retitled


# --- malformed input: each names the field ---------------------------------


def test_invalid_json_reports_line_and_column() -> None:
    assert errors_of(b'{"schemaVersion": "1.0",\n  "framework": }') == [
        "$: invalid JSON: Expecting value at line 2 column 16"
    ]


def test_invalid_utf8_and_nan() -> None:
    assert errors_of(b'{"a": "\xff"}') == ["$: not UTF-8 text (invalid byte at offset 7)"]
    assert errors_of('{"schemaVersion": NaN}') == ["$: invalid JSON: NaN is not allowed in JSON"]


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ([1, 2], "$: expected a JSON object, got a list"),
        ('"text"', "$: expected a JSON object, got a string"),
    ],
)
def test_top_level_must_be_an_object(doc: Any, expected: str) -> None:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    assert errors_of(text) == [expected]


def test_wrong_schema_version(seed_doc: dict) -> None:
    seed_doc["schemaVersion"] = "2.0"
    assert errors_of(seed_doc) == [
        'schemaVersion: unsupported schemaVersion "2.0" (supported: "1.0")'
    ]
    seed_doc["schemaVersion"] = 1.0
    assert errors_of(seed_doc) == ["schemaVersion: expected a string, got a number"]
    del seed_doc["schemaVersion"]
    assert errors_of(seed_doc) == ["schemaVersion: required key is missing"]


def test_non_string_statement(seed_doc: dict) -> None:
    seed_doc["framework"]["levels"]["developing"]["statements"][3] = ["a", "list"]
    assert errors_of(seed_doc) == [
        "framework.levels.developing.statements[3]: expected a string, got a list"
    ]


def test_blank_and_empty_statements(seed_doc: dict) -> None:
    seed_doc["framework"]["levels"]["proficient"]["statements"][0] = " \t "
    seed_doc["framework"]["levels"]["proficient"]["statements"][9] = ""
    assert errors_of(seed_doc) == [
        "framework.levels.proficient.statements[0]: expected text, got only whitespace",
        "framework.levels.proficient.statements[9]: expected a non-empty string",
    ]


def test_empty_level_and_no_levels(seed_doc: dict) -> None:
    seed_doc["framework"]["levels"]["emerging"]["statements"] = []
    assert errors_of(seed_doc) == [
        "framework.levels.emerging.statements: expected at least one statement"
    ]
    seed_doc["framework"]["levels"] = {}
    assert errors_of(seed_doc) == ["framework.levels: expected at least one level"]
    seed_doc["framework"]["levels"] = [{"label": "x", "statements": ["y"]}]
    assert errors_of(seed_doc) == [
        "framework.levels: expected an object of levels by key, got a list"
    ]


def test_duplicate_level_key_is_caught_in_the_text(seed_bytes: bytes) -> None:
    text = seed_bytes.decode()
    duplicated = text.replace(
        '"developing":{', '"emerging":{"label":"Again","statements":["x"]},"developing":{', 1
    )
    assert duplicated != text
    assert errors_of(duplicated) == ['framework.levels: duplicate level key "emerging"']


def test_duplicate_key_elsewhere(seed_bytes: bytes) -> None:
    text = seed_bytes.decode().replace('"soc":', '"title":"Again","soc":', 1)
    assert errors_of(text) == ['occupation: duplicate key "title"']


def test_missing_label_and_unknown_level_key(seed_doc: dict) -> None:
    del seed_doc["framework"]["levels"]["advanced"]["label"]
    seed_doc["framework"]["levels"]["advanced"]["colour"] = "red"
    assert errors_of(seed_doc) == [
        'framework.levels.advanced.colour: unknown key (a level has "label" and "statements")',
        "framework.levels.advanced.label: required key is missing",
    ]


def test_missing_identity_title_and_version() -> None:
    doc = {
        "schemaVersion": "1.0",
        "framework": {"levels": {"a": {"label": "A", "statements": ["s"]}}},
    }
    assert errors_of(doc) == [
        "framework.version: required key is missing",
        '$: missing framework identity: expected occupation.soc or a top-level "identifier" '
        '(or "id")',
        "framework.title: required key is missing (or give occupation.title)",
    ]


def test_wrong_types_everywhere_are_collected_in_one_raise(seed_doc: dict) -> None:
    seed_doc["occupation"]["soc"] = 292053
    seed_doc["framework"]["version"] = ""
    seed_doc["framework"]["contextCovered"] = None
    levels = seed_doc["framework"]["levels"]
    levels["emerging"]["label"] = 7
    levels["developing"] = "not a level"
    levels["advanced"]["statements"][2] = {"text": "x"}
    levels["odd key.with dot"] = {"label": "Odd", "statements": []}
    assert errors_of(seed_doc) == [
        "framework.version: expected a non-empty string",
        "framework.contextCovered: expected a string, got null",
        "framework.levels.emerging.label: expected a string, got a number",
        "framework.levels.developing: expected an object with label and statements, got a string",
        "framework.levels.advanced.statements[2]: expected a string, got an object",
        'framework.levels["odd key.with dot"].statements: expected at least one statement',
        "occupation.soc: expected a string, got a number",
    ]
    with pytest.raises(FrameworkError) as info:
        read_ler(seed_doc)
    assert str(info.value).count("\n") == 6  # one line per error


def test_missing_framework_and_wrong_framework_type(seed_doc: dict) -> None:
    seed_doc["framework"] = []
    assert errors_of(seed_doc) == ["framework: expected an object, got a list"]
    del seed_doc["framework"]
    assert errors_of(seed_doc) == ["framework: required key is missing"]


def test_text_a_database_cannot_store_is_rejected(seed_doc: dict) -> None:
    seed_doc["framework"]["levels"]["emerging"]["statements"][1] = "nul \u0000 inside"
    seed_doc["sources"]["bad"] = "\ud800"
    assert errors_of(json.dumps(seed_doc)) == [
        "framework.levels.emerging.statements[1]: contains a NUL character (U+0000)",
        "sources.bad: contains an unpaired surrogate (not valid Unicode text)",
    ]


def test_read_ler_rejects_other_input_types() -> None:
    assert errors_of(42) == ["$: expected JSON text, bytes or a mapping, got int"]


def test_framework_equality_is_structural(seed_bytes: bytes) -> None:
    fw = read_ler(seed_bytes)
    rebuilt = Framework.create(
        fw.identifier,
        fw.version,
        fw.title,
        [(lv.key, lv.label, [s.text for s in lv.statements]) for lv in fw.levels],
        description=fw.description,
        context_covered=fw.context_covered,
        extra=dict(fw.extra),
    )
    assert rebuilt == fw


def test_blank_level_key_and_non_string_keys(seed_doc: dict) -> None:
    levels = seed_doc["framework"]["levels"]
    levels[" "] = levels.pop("advanced")
    seed_doc["sources"][7] = "a mapping given directly can have any key"
    assert errors_of(seed_doc) == [
        "sources: object keys must be strings, got a number",
        'framework.levels[" "]: expected a non-blank level key',
    ]


def test_absurdly_deep_nesting_is_an_error_not_a_crash(seed_doc: dict) -> None:
    text = json.dumps(seed_doc)[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert errors_of(text) == ["$: invalid JSON: nested too deeply"]
    deep: list = []
    for _ in range(5_000):
        deep = [deep]
    seed_doc["deep"] = deep
    assert errors_of(seed_doc) == ["$: nested too deeply"]
