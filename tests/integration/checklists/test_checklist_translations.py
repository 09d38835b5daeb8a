"""Translations: the Spanish catalogue covers every message in the code, and a launch with
a Spanish locale gets Spanish pages with Spanish dates."""

from __future__ import annotations

import re
from pathlib import Path

from babel.dates import format_datetime
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from lti_app.db.models import SignoffEvent
from lti_app.request_db import database
from lti_app.services import signoffs

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "lti_app"
CATALOGUE = PACKAGE / "translations" / "es" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")


def _code_messages() -> set[str]:
    """Every message the code and templates mark, extracted as `skillsign translations
    update` extracts them."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {
        "_": None,
        "gettext": None,
        "ngettext": (1, 2),
        "lazy_gettext": None,
        "N_": None,
    }
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PACKAGE), method_map, options_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalogue():
    with open(CATALOGUE / "messages.po", "rb") as handle:
        return read_po(handle, locale="es")


def test_spanish_catalogue_is_complete_and_not_fuzzy():
    catalogue = _catalogue()
    assert not catalogue.fuzzy
    translated = {}
    problems = []
    for message in catalogue:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy:
            problems.append(f"fuzzy: {key!r}")
        if not all(strings):
            problems.append(f"untranslated: {key!r}")
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        wanted = set(PLACEHOLDER.findall(" ".join(ids)))
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != wanted:
                problems.append(f"placeholders differ: {key!r} -> {text!r}")
        translated[key] = strings
    missing = sorted(_code_messages() - set(translated))
    problems += [
        f"not in the catalogue (run `skillsign translations update`): {m!r}" for m in missing
    ]
    assert not problems, "\n".join(problems)
    assert len(translated) > 300


def test_compiled_catalogue_matches_the_po():
    catalogue = _catalogue()
    with open(CATALOGUE / "messages.mo", "rb") as handle:
        compiled = read_mo(handle)

    def entries(source):
        def plain(value):
            return value if isinstance(value, str) else tuple(value)

        return {plain(m.id): plain(m.string) for m in source if m.id}

    expected, found = entries(catalogue), entries(compiled)
    assert found == expected, "messages.mo is stale: run `skillsign translations compile`"


def test_a_spanish_launch_gets_spanish_pages_and_dates(app, client, world):
    with app.app_context(), database(app).transaction() as session:
        signoffs.sign(
            session,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            learner_ids=[world.learner.id],
            statement_ids=world.statements[:1],
        )
        signed_at = session.scalar(select(SignoffEvent.signed_at))
    spanish = world.caller(client, world.learner, locale="es-ES").get("/checklist")
    assert spanish.status_code == 200
    html = spanish.text
    assert '<html lang="es">' in html
    assert "Mi lista de competencias" in html
    assert "Solicitar validación" in html
    assert format_datetime(signed_at, locale="es") in html
    assert "My checklist" not in html and "Request sign-off" not in html
    english = world.caller(client, world.learner, locale="en-US").get("/checklist").text
    assert "My checklist" in english
    assert format_datetime(signed_at, locale="en") in english


def test_spanish_instructor_pages_and_messages(app, client, world):
    teacher = world.caller(client, world.instructor, locale="es")
    grid = teacher.get("/grid").text
    assert "Cuadrícula de validación" in grid
    assert "Validar todos los enunciados de este nivel" in grid
    refused = teacher.post("/grid/confirm", {"action": "level", "level": "emerging"})
    assert refused.status_code == 303
    assert "Selecciona al menos un estudiante." in teacher.get("/grid").text
    learner = world.caller(client, world.learner, locale="es")
    bad = learner.post(
        f"/checklist/{world.statements[0]}/request", {"text": "x", "url": "ftp://example.edu/x"}
    )
    assert bad.status_code == 400
    assert "El enlace debe empezar por http:// o https://." in bad.text
