from __future__ import annotations

import csv
import html
import io
import json

from frameworks import MOODLE_COLUMNS, Framework, read_ler, write_moodle_csv

COL = {name: i for i, name in enumerate(MOODLE_COLUMNS)}


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_columns_are_moodles_fourteen() -> None:
    assert len(MOODLE_COLUMNS) == 14
    assert MOODLE_COLUMNS[0] == "Parent id number"
    assert MOODLE_COLUMNS[-2:] == ("Is framework", "Taxonomy")


def test_seed_structure(seed_bytes: bytes) -> None:
    fw = read_ler(seed_bytes)
    header, framework, *rows = parse(write_moodle_csv(fw))
    assert tuple(header) == MOODLE_COLUMNS
    assert all(len(row) == 14 for row in [framework, *rows])

    assert framework[COL["Is framework"]] == "1"
    assert framework[COL["Parent id number"]] == ""
    assert framework[COL["Id number"]] == str(fw.id)
    assert framework[COL["Shortname"]] == fw.title
    assert framework[COL["Taxonomy"]] == "level,competency"
    assert framework[COL["Scale values"]] == "Not yet competent,Competent"
    config = json.loads(framework[COL["Scale configuration"]])
    assert set(config[0]) == {"scaleid"}
    items = config[1:]
    assert [item["id"] for item in items] == [1, 2]  # one entry per scale value
    assert sum(item["scaledefault"] for item in items) == 1
    assert [item["proficient"] for item in items] == [0, 1]

    assert len(rows) == 4 + 40
    assert all(row[COL["Is framework"]] == "" for row in rows)
    levels = [row for row in rows if row[COL["Parent id number"]] == ""]
    assert [row[COL["Id number"]] for row in levels] == [str(lv.id) for lv in fw.levels]
    assert [row[COL["Shortname"]] for row in levels] == [lv.label for lv in fw.levels]
    for lv in fw.levels:
        children = [row for row in rows if row[COL["Parent id number"]] == str(lv.id)]
        assert [row[COL["Id number"]] for row in children] == [str(s.id) for s in lv.statements]
        for row, s in zip(children, lv.statements, strict=True):
            name = row[COL["Shortname"]]
            if len(s.competency) <= 100:
                assert name == s.competency
            else:  # Moodle caps short names at 100 characters
                assert len(name) <= 100
                assert name.endswith("\u2026")
                assert s.competency.startswith(name[:-1])
    id_numbers = [row[COL["Id number"]] for row in [framework, *rows]]
    assert len(set(id_numbers)) == len(id_numbers)
    assert all(len(idn) <= 100 for idn in id_numbers)
    exported = [int(row[COL["Exported id"]]) for row in rows]
    assert exported == list(range(1, 45))


def test_awkward_text_survives_quoting() -> None:
    nasty = 'Commas, "quotes", <b>tags</b> & ampersands\nand a newline — 日本語 🧠 مرحبا'
    long = "word " * 40 + "— performance"
    fw = Framework.create(
        "urn:x", "1", 'Title, "quoted"', [("k", "Label, with comma", [nasty, long])]
    )
    text = write_moodle_csv(fw)
    _header, framework, level, first, second = parse(text)
    assert framework[COL["Shortname"]] == 'Title, "quoted"'
    assert level[COL["Shortname"]] == "Label, with comma"
    # Shortname: the competency on one line, at most 100 characters.
    assert first[COL["Shortname"]] == 'Commas, "quotes", <b>tags</b> & ampersands and a newline'
    assert len(second[COL["Shortname"]]) <= 100
    assert second[COL["Shortname"]].endswith("\u2026")
    # Description: the full text as escaped HTML (format 1).
    assert first[COL["Description format"]] == "1"
    description = first[COL["Description"]]
    assert "<b>" not in description  # the text's markup is escaped, not rendered
    assert description.count("<br>") == 1  # its newline
    inner = description.removeprefix("<p>").removesuffix("</p>")
    assert html.unescape(inner.replace("<br>", "\n")) == nasty
