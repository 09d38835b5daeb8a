"""Ids no database row can have (0, negative, past BIGINT) are "not found", never a 500.

PostgreSQL answers such an id with "integer out of range" (our keys are INTEGER: already from
2**31) and SQLite with "Python int too large" (from 2**63), both unhandled (500) once the value
reaches a query. Every route with an integer in its path takes it through the ``dbid``
converter (1 to MAX_DB_ID, else the rule does not match: 404), and ids in forms through one
helper (400 naming the field). The walk covers the tool's
URL map and the demo LMS's, so a new ``<int:...>`` route fails here.
"""

from __future__ import annotations

import re
import uuid

import pytest
from support.adversarial_db import checksum
from support.checklist_world import make_world
from werkzeug.routing.converters import NumberConverter

from lti_app.db import Base
from lti_app.ids import MAX_DB_ID, DbIdConverter, parse_db_id

OUT_OF_RANGE = (str(2**63), str(2**70), str(2**31), "0", "-1", "00", "9" * 40)
PARAM = re.compile(r"<(?:([a-z_]+)(?:\([^)]*\))?:)?([a-z_]+)>")


def _integer_rules(url_map) -> list:
    return [
        rule
        for rule in url_map.iter_rules()
        if any(isinstance(c, NumberConverter) for c in rule._converters.values())
    ]


def _urls(rule, token: str, bad: str) -> list[str]:
    """The rule's path with ``bad`` in each integer place in turn, sane values elsewhere."""
    integers = [n for n, c in rule._converters.items() if isinstance(c, NumberConverter)]
    urls = []
    for target in integers:

        def fill(match: re.Match[str], target: str = target) -> str:
            converter, name = match.group(1), match.group(2)
            if name == target:
                return bad
            if name == "ls":
                return token
            if converter == "uuid":
                return str(uuid.uuid4())
            if converter in ("int", "dbid"):
                return "1"
            return "json"

        urls.append(PARAM.sub(fill, rule.rule))
    return urls


def _state(db) -> str:
    # Launch sessions slide their expiry on every request: not part of "what was written".
    skip = ("launch_sessions", "lti_launch_data")
    return checksum(db, [t.name for t in Base.metadata.sorted_tables if t.name not in skip])


@pytest.fixture
def world(app):
    return make_world(app, learners=2)


def test_every_integer_route_uses_the_database_id_converter(app):
    demo = app.extensions["skillsign.demo_lms"]
    rules = _integer_rules(app.url_map) + _integer_rules(demo.url_map)
    assert len(rules) >= 14  # the tool's 11 and the demo LMS's 3: the walk below is not empty
    plain = [
        r.rule
        for r in rules
        if any(
            isinstance(c, NumberConverter) and not isinstance(c, DbIdConverter)
            for c in r._converters.values()
        )
    ]
    assert not plain, f"integer routes without <dbid:...>: {plain}"


def test_out_of_range_path_ids_are_404_on_every_route(app, client, db, world):
    # A real instructor session: were the converter missing, the request would reach the view.
    token = world.caller(client, world.instructor).token
    before = _state(db)
    answers: dict[str, int] = {}
    for rule in _integer_rules(app.url_map):
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for bad in OUT_OF_RANGE:
                for url in _urls(rule, token, bad):
                    answers[f"{method} {url}"] = client.open(url, method=method).status_code
    demo_rules = _integer_rules(app.extensions["skillsign.demo_lms"].url_map)
    for rule in demo_rules:
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for bad in OUT_OF_RANGE:
                for url in _urls(rule, token, bad):
                    path = "/demo-lms" + url
                    answers[f"{method} {path}"] = client.open(path, method=method).status_code
    wrong = {url: status for url, status in answers.items() if status != 404}
    assert not wrong, f"out-of-range ids not answered 404: {wrong}"
    assert len(answers) >= 14 * len(OUT_OF_RANGE)
    assert _state(db) == before


def test_the_largest_id_still_routes(app, client, world):
    # MAX_DB_ID is a valid id, on PostgreSQL too: the view runs and finds no such learner.
    caller = world.caller(client, world.instructor)
    answer = caller.get(f"/learners/{MAX_DB_ID}")
    assert answer.status_code == 404
    assert b"no such learner" in answer.data.lower()
    assert caller.get(f"/learners/{world.learner.id}").status_code == 200


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1", 1),
        (str(MAX_DB_ID), MAX_DB_ID),
        (str(MAX_DB_ID + 1), None),
        ("0", None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1_0", None),
        ("١", None),  # an Arabic-Indic digit: int() takes it, we do not
        ("", None),
    ],
)
def test_parse_db_id(raw, expected):
    assert parse_db_id(raw) == expected


@pytest.mark.parametrize(
    "form",
    [
        {"action": "level", "level": "emerging", "learner": str(2**70)},
        {"action": "level", "level": "emerging", "learner": str(2**63)},
        {"action": "level", "level": "emerging", "learner": str(2**31)},
        {"action": "level", "level": "emerging", "learner": "-1"},
        {"action": "cells", "cell": f"{2**70}:{uuid.uuid4()}"},
    ],
)
@pytest.mark.parametrize("path", ["/grid/confirm", "/grid/sign"])
def test_out_of_range_form_ids_are_refused_with_a_message(app, client, db, world, form, path):
    caller = world.caller(client, world.instructor)
    if form.get("action") == "cells":
        form = {"action": "cells", "cell": form["cell"].split(":")[0] + f":{world.statements[0]}"}
    before = _state(db)
    answer = caller.post(path, form, headers={"Accept": "application/json"})
    assert answer.status_code == 400, answer.data[:300]
    field = "cell" if "cell" in form else "learner"
    assert f"The field {field} must hold an id from 1 to {MAX_DB_ID}." in answer.json["detail"]
    assert answer.json["code"] == "form.bad_id"
    assert _state(db) == before
