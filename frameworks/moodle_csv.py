"""Moodle competency-framework CSV (admin/tool/lpimportcsv), so a Moodle site
can mirror a framework: the framework row, then each level as a competency,
then each statement as a competency under its level.

Moodle's importer maps columns by position and keeps the first row flagged
"Is framework" as the framework; it rewrites the scaleid in the scale
configuration to the scale it finds (or creates) for the scale values.
"""

from __future__ import annotations

import csv
import html
import io
import json

from .model import Framework

MOODLE_COLUMNS: tuple[str, ...] = (
    "Parent id number",
    "Id number",
    "Shortname",
    "Description",
    "Description format",
    "Scale values",
    "Scale configuration",
    "Rule type",
    "Rule outcome",
    "Rule config",
    "Cross referenced competency id numbers",
    "Exported id",
    "Is framework",
    "Taxonomy",
)

SCALE_VALUES = "Not yet competent,Competent"
# First element names the scale; then one entry per scale item (1-based):
# "Not yet competent" is the default, "Competent" is proficient.
SCALE_CONFIGURATION = json.dumps(
    [
        {"scaleid": "1"},
        {"id": 1, "scaledefault": 1, "proficient": 0},
        {"id": 2, "scaledefault": 0, "proficient": 1},
    ],
    separators=(",", ":"),
)
TAXONOMY = "level,competency"  # depth 1: levels, depth 2: statements
FORMAT_HTML = 1
SHORTNAME_MAX = 100  # Moodle truncates idnumber and shortname at 100 characters
_RULE_OUTCOME_NONE = 0


def write_moodle_csv(fw: Framework) -> str:
    """The framework as Moodle tool_lpimportcsv CSV text (header row included)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(MOODLE_COLUMNS)
    framework_idnumber = str(fw.id)
    writer.writerow(
        [
            "",
            framework_idnumber,
            _shortname(fw.title),
            _html(fw.description, fw.context_covered),
            FORMAT_HTML,
            SCALE_VALUES,
            SCALE_CONFIGURATION,
            "",
            "",
            "",
            "",
            "",
            1,
            TAXONOMY,
        ]
    )
    exported = 0
    for level in fw.levels:
        exported += 1
        writer.writerow(_competency("", str(level.id), level.label, level.label, exported))
        for statement in level.statements:
            exported += 1
            # Moodle skips a competency without a short name; " — x" has an empty competency.
            name = statement.competency if statement.competency.strip() else statement.text
            writer.writerow(
                _competency(str(level.id), str(statement.id), name, statement.text, exported)
            )
    return out.getvalue()


def _competency(
    parent: str, idnumber: str, shortname: str, description: str, exported: int
) -> list[object]:
    # Empty scale columns: the competency uses the framework's scale.
    return [
        parent,
        idnumber,
        _shortname(shortname),
        _html(description),
        FORMAT_HTML,
        "",
        "",
        "",
        _RULE_OUTCOME_NONE,
        "null",
        "",
        exported,
        "",
        "",
    ]


def _shortname(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= SHORTNAME_MAX:
        return text
    return text[: SHORTNAME_MAX - 1].rstrip() + "\u2026"


def _html(*paragraphs: str) -> str:
    return "".join(
        "<p>" + html.escape(p, quote=False).replace("\n", "<br>") + "</p>"
        for p in paragraphs
        if p.strip()
    )
