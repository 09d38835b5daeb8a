"""The cohort CSV export cannot be turned into code by a spreadsheet (OWASP CSV injection).

Learner names and emails come from the LMS (launches and roster sync), i.e. from anyone who
can edit a profile there. Every field is quoted, and every cell or ``,``/``;``-separated
segment of a cell that starts with = + - @ tab or CR starts with a ``'`` instead.
"""

from __future__ import annotations

import csv
import io
import re

from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.checklist_world import make_world

from lti_app.db.models import User
from lti_app.request_db import database
from lti_app.services import csv_safe

TRIGGERS = "=+-@\t\r"
HOSTILE = {
    0: '=HYPERLINK("http://x","y")',
    1: "@SUM(1)",
    2: "a;=cmd|' /C calc'!A0",
    3: "x,\t=1+2",
    4: "+1, -2; @3",
}
# Text a generator may build: every trigger, both separators, quotes, and anything else.
cells = st.text(
    alphabet=st.one_of(st.sampled_from(list(TRIGGERS + ",;'\"\n a")), st.characters()),
    max_size=40,
)


def _segments(cell: str) -> list[str]:
    return re.split(r"[,;]", cell)


def _dangerous(cell: str) -> list[str]:
    return [s for s in _segments(cell) if s[:1] in set(TRIGGERS)]


@given(text=cells, neighbour=cells)
@settings(max_examples=2000, deadline=None)
@example(text="=1", neighbour="")
@example(text="a;=b,+c", neighbour="'")
@example(text="''=x", neighbour=",;")
@example(text='"=x"', neighbour="\r")
def test_no_cell_or_segment_starts_a_formula_and_the_original_comes_back(text, neighbour):
    buffer = io.StringIO(newline="")
    csv_safe.writer(buffer).writerow(csv_safe.row([text, neighbour]))
    raw = buffer.getvalue()
    assert raw.startswith('"') and raw.endswith('"\r\n')  # QUOTE_ALL
    (parsed,) = list(csv.reader(io.StringIO(raw, newline="")))
    assert len(parsed) == 2
    for original, cell in zip((text, neighbour), parsed, strict=True):
        assert not _dangerous(cell), (original, cell)
        assert csv_safe.restore(cell) == original


def test_harmless_text_is_left_alone():
    for text in ("Zoë Ødegård", "3/10", "2026-01-02T03:04:05Z", "a@b.example", "O'Brien"):
        assert csv_safe.neutralise(text) == text


def test_the_cohort_export_neutralises_names_from_the_lms(app, client):
    world = make_world(app, learners=5)
    with app.app_context(), database(app).transaction() as session:
        for index, name in HOSTILE.items():
            # What a launch or a roster sync stores: the LMS's name, as it sent it.
            session.get(User, world.learners[index].id).name = name
        session.get(User, world.learners[0].id).email = "-2+3@example.edu"
    answer = world.caller(client, world.instructor).get("/cohort.csv")
    assert answer.status_code == 200
    text = answer.data.decode("utf-8").removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 1 + len(world.learners)
    # Every field of every row is quoted, so no value can end a field early.
    field = r'"(?:[^"]|"")*"'
    for line in text.split("\r\n")[:-1]:
        assert re.fullmatch(f"{field}(?:,{field})*", line), line[:120]
    names = [row[0] for row in rows[1:]]
    assert '\'=HYPERLINK("http://x","y")' in names
    assert "'@SUM(1)" in names
    assert "a;'=cmd|' /C calc'!A0" in names
    assert "x,'\t=1+2" in names
    assert "'+1,' -2;' @3" not in names and "'+1, -2; @3" in names  # only segment starts
    assert not any(_dangerous(cell) for row in rows for cell in row)
    assert sorted(csv_safe.restore(n) for n in names if n in csv_safe.row(HOSTILE.values())) == (
        sorted(HOSTILE.values())
    )
    emails = [row[1] for row in rows[1:]]
    assert "'-2+3@example.edu" in emails
    # The raw bytes never hold a cell opening with a bare trigger.
    assert '"=HYPERLINK' not in text and '"@SUM' not in text and ";=cmd" not in text
