from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from frameworks import (
    Framework,
    FrameworkError,
    case_uri,
    read_case,
    read_ler,
    write_case,
)
from frameworks.case import association_id

BASE = "https://tool.example.org/"
WHEN = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def errors_of(data: Any) -> list[str]:
    with pytest.raises(FrameworkError) as info:
        read_case(data)
    return [str(e) for e in info.value.errors]


def schema_errors(validator, package: dict) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(package)]


# --- export -----------------------------------------------------------------


def test_seed_export_validates_against_case_1_0(seed_bytes: bytes, case_validator) -> None:
    package = write_case(read_ler(seed_bytes), BASE)
    assert schema_errors(case_validator, package) == []
    # And the validator is not toothless: a bad date-time and an unknown key are caught.
    broken = json.loads(json.dumps(package))
    broken["CFItems"][0]["lastChangeDateTime"] = "yesterday"
    broken["caseVersion"] = "1.1"
    assert len(schema_errors(case_validator, broken)) == 2


def test_export_structure(seed_bytes: bytes) -> None:
    fw = read_ler(seed_bytes)
    package = write_case(fw, BASE)
    document = package["CFDocument"]
    assert document["identifier"] == str(fw.id)
    assert document["uri"] == f"https://tool.example.org/case/v1p0/CFDocuments/{fw.id}"
    assert document["title"] == "Psychiatric Technicians"
    assert document["version"] == "v.26.05"
    assert document["lastChangeDateTime"] == "2026-05-15T12:38:45.129Z"  # the seed's exportedAt
    assert document["description"] == fw.context_covered  # the seed's description is empty

    items = {item["identifier"]: item for item in package["CFItems"]}
    assert len(items) == 4 + 40
    types = [item["CFItemType"] for item in package["CFItems"]]
    assert types.count("Level") == 4
    assert types.count("Statement") == 40
    level = items[str(fw.levels[1].id)]
    assert (level["fullStatement"], level["humanCodingScheme"]) == ("Developing", "developing")
    statement = fw.level("emerging").statements[2]
    item = items[str(statement.id)]
    assert item["fullStatement"] == statement.text
    assert item["humanCodingScheme"] == "emerging.3"
    assert item["abbreviatedStatement"] == statement.competency
    assert item["uri"] == case_uri(BASE, "CFItems", statement.id)

    child_of = {
        (a["originNodeURI"]["identifier"], a["destinationNodeURI"]["identifier"]): a
        for a in package["CFAssociations"]
    }
    assert len(child_of) == len(package["CFAssociations"]) == 44
    assert all(a["associationType"] == "isChildOf" for a in package["CFAssociations"])
    for order, lv in enumerate(fw.levels, start=1):
        link = child_of[(str(lv.id), str(fw.id))]
        assert link["sequenceNumber"] == order
        assert link["identifier"] == str(association_id(lv.id, fw.id))
        assert link["uri"] == case_uri(BASE, "CFAssociations", link["identifier"])
        for s in lv.statements:
            assert child_of[(str(s.id), str(lv.id))]["sequenceNumber"] == s.position


def test_long_competencies_are_not_abbreviated(build) -> None:
    long = "x" * 61
    fw = Framework.create("urn:x", "1", "T", [("k", "K", [f"{long} — do", "short — do", "plain"])])
    items = write_case(fw, BASE, changed=WHEN)["CFItems"]
    abbreviated = [item.get("abbreviatedStatement") for item in items[1:]]
    assert abbreviated == [None, "short", None]


def test_export_is_deterministic_given_a_time(build) -> None:
    fw = build([2, 1])
    assert write_case(fw, BASE, changed=WHEN) == write_case(fw, BASE.rstrip("/"), changed=WHEN)
    other_zone = WHEN.astimezone(timezone(timedelta(hours=5)))
    stamped = write_case(fw, BASE, changed=other_zone)
    assert stamped["CFDocument"]["lastChangeDateTime"] == "2025-03-04T05:06:07.000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        write_case(fw, BASE, changed=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="absolute http"):
        write_case(fw, "tool.example.org")


def test_case_uri() -> None:
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert case_uri("https://h.example/base/", "CFItems", ident) == (
        "https://h.example/base/case/v1p0/CFItems/12345678-1234-5678-1234-567812345678"
    )
    with pytest.raises(ValueError, match="unknown CASE kind"):
        case_uri("https://h.example", "CFThings", ident)


# --- round trip -------------------------------------------------------------


def test_seed_round_trips_through_case(seed_bytes: bytes) -> None:
    fw = read_ler(seed_bytes)
    back = read_case(json.dumps(write_case(fw, BASE), ensure_ascii=False).encode())
    assert back == fw
    assert [s.id for s in back.statements] == [s.id for s in fw.statements]


def test_unicode_framework_round_trips_and_validates(case_validator) -> None:
    fw = Framework.create(
        "urn:例え:框架",
        "版本 1",
        "مهارات 🧠",
        [
            ("레벨-1", "שלב א", ["看護 — 記録", "e\u0301 — combining"]),
            ("emoji👩🏽‍⚕️", "Ω", ["👍", 'quote " and \\ backslash — x', "multi\nline"]),
            ("three", "3", ["a — b — c"]),
        ],
        description="desc",
        context_covered="covered",
        extra={"nested": {"list": [1, 2.5, None, True, "ü"]}},
    )
    package = write_case(fw, BASE, changed=WHEN)
    assert schema_errors(case_validator, package) == []
    assert read_case(json.dumps(package)) == fw


def test_shuffled_own_package_imports_in_order(seed_bytes: bytes) -> None:
    fw = read_ler(seed_bytes)
    package = write_case(fw, BASE)
    rng = random.Random(7)
    rng.shuffle(package["CFItems"])
    rng.shuffle(package["CFAssociations"])
    assert read_case(package) == fw


# --- third-party packages ---------------------------------------------------


def third_party_package() -> dict:
    """A hand-written package from another tool: no skillsign note, its own
    identifiers, lower-case item types, gaps in sequence numbers, shuffled."""
    doc_uri = "https://case.example.edu/uri/9a8b7c6d-0000-4000-8000-000000000001"
    doc = {
        "identifier": "9a8b7c6d-0000-4000-8000-000000000001",
        "uri": doc_uri,
        "creator": "Example State",
        "title": "Welding competencies",
        "lastChangeDateTime": "2024-09-01T00:00:00+00:00",
        "version": "2.1",
        "notes": "Adopted by the board in 2024.",
    }

    def ident(n: int) -> str:
        return f"00000000-0000-4000-8000-{n:012d}"

    items = [
        {
            "identifier": ident(1),
            "fullStatement": "Novice",
            "CFItemType": "level",
            "humanCodingScheme": "N",
        },
        {"identifier": ident(2), "fullStatement": "Expert Welder", "CFItemType": "LEVEL"},
        {
            "identifier": ident(3),
            "fullStatement": "Intermediate",
            "CFItemType": "Level",
            "humanCodingScheme": "I",
        },
    ]
    statements = {  # level item -> (sequenceNumber, text) in a scrambled order
        1: [(30, "Novice C"), (10, "Novice A"), (20, "Novice B")],
        2: [(2, "Expert B — under pressure"), (None, "Expert C (unnumbered)"), (1, "Expert A")],
        3: [(5, "Intermediate only")],
    }
    associations = []
    n = 100
    for seq, level in ((3, 2), (1, 1), (2, 3)):  # Novice, Intermediate, Expert
        associations.append(
            {
                "identifier": ident(n),
                "associationType": "isChildOf",
                "sequenceNumber": seq,
                "originNodeURI": {"identifier": ident(level)},
                "destinationNodeURI": {"identifier": doc["identifier"]},
            }
        )
        n += 1
    for level, members in statements.items():
        for seq, text in members:
            items.append({"identifier": ident(n), "fullStatement": text, "CFItemType": "Skill"})
            assoc = {
                "identifier": ident(n + 1000),
                "associationType": "isChildOf",
                "originNodeURI": {"identifier": ident(n)},
                "destinationNodeURI": {"identifier": ident(level)},
            }
            if seq is not None:
                assoc["sequenceNumber"] = seq
            associations.append(assoc)
            n += 1
    # Associations of other kinds and to other documents are ignored.
    associations.append(
        {
            "identifier": ident(999),
            "associationType": "exactMatchOf",
            "originNodeURI": {"identifier": ident(1)},
            "destinationNodeURI": {"identifier": "elsewhere"},
        }
    )
    rng = random.Random(3)
    rng.shuffle(items)
    rng.shuffle(associations)
    return {"CFDocument": doc, "CFItems": items, "CFAssociations": associations}


def test_third_party_package_imports_in_sequence_order() -> None:
    package = third_party_package()
    fw = read_case(json.dumps(package))
    assert fw.identifier == package["CFDocument"]["uri"]
    assert fw.version == "2.1"
    assert fw.title == "Welding competencies"
    assert [(lv.key, lv.label) for lv in fw.levels] == [
        ("N", "Novice"),
        ("I", "Intermediate"),
        ("expert-welder", "Expert Welder"),
    ]
    assert [[s.text for s in lv.statements] for lv in fw.levels] == [
        ["Novice A", "Novice B", "Novice C"],
        ["Intermediate only"],
        ["Expert A", "Expert B — under pressure", "Expert C (unnumbered)"],
    ]
    assert fw.level("expert-welder").statements[1].performance == "under pressure"
    assert fw.extra["caseDocument"]["notes"] == "Adopted by the board in 2024."
    # Once imported it is ours: it exports and comes back unchanged.
    assert read_case(write_case(fw, BASE, changed=WHEN)) == fw


def test_third_party_without_uri_or_version_falls_back() -> None:
    package = third_party_package()
    del package["CFDocument"]["uri"]
    del package["CFDocument"]["version"]
    fw = read_case(package)
    assert fw.identifier == "9a8b7c6d-0000-4000-8000-000000000001"
    assert fw.version == "2024-09-01T00:00:00+00:00"


def test_third_party_slugs_are_made_unique() -> None:
    package = third_party_package()
    for item in package["CFItems"]:
        if item["CFItemType"].casefold() == "level":
            item.pop("humanCodingScheme", None)
            item["fullStatement"] = "Same Name"
    keys = [lv.key for lv in read_case(package).levels]
    assert keys == ["same-name", "same-name-2", "same-name-3"]


# --- malformed packages -----------------------------------------------------


def test_not_a_package() -> None:
    assert errors_of("[]") == ["$: expected a JSON object, got a list"]
    assert errors_of("{}") == [
        "CFDocument: required key is missing",
        "CFItems: required key is missing",
        "CFAssociations: required key is missing",
        "CFDocument.identifier: required key is missing",
        "CFDocument.title: required key is missing",
        "CFDocument.version: required key is missing (or give lastChangeDateTime)",
    ]


def test_bad_items_and_associations_are_all_reported(build) -> None:
    package = write_case(build([2, 2]), BASE, changed=WHEN)
    items, assocs = package["CFItems"], package["CFAssociations"]
    # Items: level 1, its 2 statements, level 2, its 2 statements.
    items[4]["CFItemType"] = 4
    items[2]["fullStatement"] = "   "
    assocs[5]["destinationNodeURI"]["identifier"] = "no-such-node"
    assocs[3]["sequenceNumber"] = "first"
    del assocs[1]["originNodeURI"]["identifier"]
    assert errors_of(package) == [
        "CFItems[4].CFItemType: expected a string, got a number",
        "CFAssociations[1].originNodeURI.identifier: required key is missing",
        "CFAssociations[3].sequenceNumber: expected an integer, got a string",
        "CFAssociations[5].destinationNodeURI.identifier: no CFDocument or CFItem has "
        'identifier "no-such-node"',
        "CFItems[2].fullStatement: expected text, got only whitespace",
    ]


def test_level_without_parent_or_statements() -> None:
    package = third_party_package()
    level_ids = {i["identifier"] for i in package["CFItems"] if i["fullStatement"] == "Novice"}
    package["CFAssociations"] = [
        a
        for a in package["CFAssociations"]
        if not (
            a["originNodeURI"]["identifier"] in level_ids
            or a["destinationNodeURI"]["identifier"] in level_ids
        )
    ]
    novice = next(
        i for i, item in enumerate(package["CFItems"]) if item["fullStatement"] == "Novice"
    )
    assert errors_of(package) == [
        f"CFItems[{novice}]: level has no isChildOf association to the CFDocument"
    ]


def test_level_with_no_statements() -> None:
    package = third_party_package()
    package["CFItems"].append(
        {"identifier": "lonely", "fullStatement": "Lonely", "CFItemType": "Level"}
    )
    package["CFAssociations"].append(
        {
            "identifier": "x",
            "associationType": "isChildOf",
            "sequenceNumber": 9,
            "originNodeURI": {"identifier": "lonely"},
            "destinationNodeURI": {"identifier": package["CFDocument"]["identifier"]},
        }
    )
    n = len(package["CFItems"]) - 1
    assert errors_of(package) == [
        f"CFItems[{n}]: expected at least one statement (an isChildOf association to this level)"
    ]


def test_no_level_items_and_duplicate_identifiers() -> None:
    package = third_party_package()
    for item in package["CFItems"]:
        item["CFItemType"] = "Standard"
    package["CFItems"].append(dict(package["CFItems"][0]))
    n = len(package["CFItems"]) - 1
    assert errors_of(package) == [
        f'CFItems[{n}].identifier: duplicate identifier "{package["CFItems"][0]["identifier"]}" '
        "(also CFItems[0])",
        'CFItems: expected at least one CFItem with CFItemType "Level"',
    ]


def test_damaged_skillsign_note_is_reported(build) -> None:
    package = write_case(build([1]), BASE, changed=WHEN)
    note = json.loads(package["CFDocument"]["notes"])
    del note["skillsign"]["identifier"]
    note["skillsign"]["extra"] = [1]
    package["CFDocument"]["notes"] = json.dumps(note)
    assert errors_of(package) == [
        "CFDocument.notes.skillsign.identifier: required key is missing",
        "CFDocument.notes.skillsign.extra: expected an object, got a list",
    ]


def test_note_whose_extra_would_not_export_is_refused(build) -> None:
    package = write_case(build([1]), BASE, changed=WHEN)
    note = json.loads(package["CFDocument"]["notes"])
    note["skillsign"]["extra"] = {"occupation": {"soc": "11-1011.00"}}
    note["skillsign"]["contextCovered"] = 5
    package["CFDocument"]["notes"] = json.dumps(note)
    assert errors_of(package) == [
        "CFDocument.notes.skillsign.contextCovered: expected a string, got a number",
        "CFDocument.notes.skillsign.extra.occupation.soc: names the identifier "
        '"onet-soc:11-1011.00", not "urn:example:framework"',
    ]


def test_statement_linked_twice_to_one_level(build) -> None:
    package = write_case(build([2]), BASE, changed=WHEN)
    package["CFAssociations"].append(json.loads(json.dumps(package["CFAssociations"][1])))
    n = len(package["CFAssociations"]) - 1
    assert errors_of(package) == [
        f"CFAssociations[{n}]: this item is already a child of that level"
    ]
