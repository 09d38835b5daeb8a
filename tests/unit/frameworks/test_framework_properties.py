"""Property tests: any framework survives every writer/reader pair unchanged."""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frameworks import (
    MOODLE_COLUMNS,
    Framework,
    read_case,
    read_ler,
    write_case,
    write_ler,
    write_moodle_csv,
)

# Any Unicode except what the readers refuse on purpose (NUL; lone surrogates,
# which hypothesis already leaves out).
CHARS = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
SEP = " \u2014 "
RESERVED_EXTRA = {"schemaVersion", "identifier", "framework", "occupation"}


def text(max_size: int = 30) -> st.SearchStrategy[str]:
    return st.text(CHARS, min_size=1, max_size=max_size).filter(lambda s: bool(s.strip()))


single_line = text().filter(lambda s: "\n" not in s and "\r" not in s)
statement = st.one_of(
    text(),
    st.lists(text(), min_size=2, max_size=3).map(SEP.join),  # with " — " separators
    text().map(lambda s: SEP + s),  # empty competency
)
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(CHARS, max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(CHARS, max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
extra = st.dictionaries(
    st.text(CHARS, max_size=10).filter(lambda k: k not in RESERVED_EXTRA), json_value, max_size=4
)


@st.composite
def frameworks(draw: st.DrawFn) -> Framework:
    keys = draw(st.lists(text(12), min_size=1, max_size=8, unique=True))
    levels = [
        (key, draw(text()), draw(st.lists(statement, min_size=1, max_size=15))) for key in keys
    ]
    return Framework.create(
        draw(single_line),
        draw(single_line),
        draw(text()),
        levels,
        description=draw(st.text(CHARS, max_size=30)),
        context_covered=draw(st.text(CHARS, max_size=30)),
        extra=draw(extra),
    )


PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(frameworks())
def test_ler_round_trip(fw: Framework) -> None:
    written = json.dumps(write_ler(fw), ensure_ascii=False).encode()
    back = read_ler(written)
    assert back == fw
    assert [s.id for s in back.statements] == [s.id for s in fw.statements]


@PROPERTY
@given(frameworks())
def test_case_round_trip(fw: Framework) -> None:
    package = write_case(fw, "https://tool.example.org", changed=datetime(2025, 1, 1, tzinfo=UTC))
    back = read_case(json.dumps(package, ensure_ascii=False))
    assert back == fw
    assert [s.id for s in back.statements] == [s.id for s in fw.statements]


@settings(max_examples=50, deadline=None)
@given(frameworks())
def test_moodle_csv_keeps_structure_and_text(fw: Framework) -> None:
    rows = list(csv.reader(io.StringIO(write_moodle_csv(fw), newline="")))
    assert tuple(rows[0]) == MOODLE_COLUMNS
    body = rows[2:]
    assert len(body) == len(fw.levels) + len(fw.statements)
    by_id = {row[1]: row for row in body}
    for level in fw.levels:
        assert by_id[str(level.id)][0] == ""
        for s in level.statements:
            row = by_id[str(s.id)]
            assert row[0] == str(level.id)
            inner = row[3].removeprefix("<p>").removesuffix("</p>")
            assert html.unescape(inner.replace("<br>", "\n")) == s.text
            assert 0 < len(row[2]) <= 100
