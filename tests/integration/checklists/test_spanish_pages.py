"""One language per page: every page a learner and an instructor can reach, the error pages
(404, 500, a refused launch, a service's refusal) and the flash messages, rendered in Spanish,
show no English UI string.

"English UI strings" are the catalogue's English messages whose Spanish differs (a message
with placeholders matches whatever fills them), the titles of the app's errors and
Werkzeug's error names and descriptions. Each visible text node, and each attribute a person
meets (aria-label, title, alt, placeholder), is compared against them. Framework statements
and people's names are data, not UI: they are in no catalogue and never match.

The language menu is tested here too: the choice is kept on the person (``users.ui_locale``)
and wins over the LMS's locale; pages outside a launch take ``?lang=`` and remember it.
"""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select
from support.checklist_world import make_world
from werkzeug import exceptions as wz
from werkzeug.http import HTTP_STATUS_CODES

from lti_app.db.models import User
from lti_app.request_db import database
from lti_app.services import errors as service_errors
from lti_app.services import signoff_requests, signoffs

ROOT = Path(__file__).resolve().parents[3]
PO = ROOT / "lti_app" / "translations" / "es" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]")
ATTRIBUTES = ("aria-label", "title", "alt", "placeholder")
SKIP = {"script", "style", "code", "pre"}


def _pattern(msgid: str) -> re.Pattern[str] | None:
    text = " ".join(msgid.split())
    if len(PLACEHOLDER.sub("", text).strip(" .:,;()·-")) < 3:
        return None  # "%(num)d %(unit)s" and the like say nothing in either language
    parts = [re.escape(p) for p in PLACEHOLDER.split(text)]
    return re.compile("^" + "(.+?)".join(parts) + "$", re.S)


def english_strings() -> list[tuple[str, re.Pattern[str]]]:
    with open(PO / "messages.po", "rb") as handle:
        catalogue = read_po(handle, locale="es")
    found: dict[str, re.Pattern[str]] = {}
    for message in catalogue:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for msgid in ids:
            if msgid in strings:  # the same in both languages ("skillsign", "Email" ...)
                continue
            pattern = _pattern(msgid)
            if pattern is not None:
                found[msgid] = pattern
    # Error titles and descriptions that never went through the catalogue.
    extra = set()
    for cls in wz.HTTPException.__subclasses__() + wz.BadRequest.__subclasses__():
        if getattr(cls, "code", None):
            description = cls.description if isinstance(cls.description, str) else ""
            extra |= {HTTP_STATUS_CODES.get(cls.code, ""), " ".join(description.split())}
    pending = [service_errors.AppError]
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        extra.add(cls.title)
    extra |= {"Something went wrong", "The error was logged. Please try again later."}
    extra |= {  # Flask-WTF's CSRF refusals and the launch session's, before translation
        "The CSRF token is missing.",
        "The CSRF token has expired.",
        "The CSRF tokens do not match.",
        "The CSRF session token is missing.",
        "Your skillsign session has expired. Launch skillsign again from your course.",
        "This skillsign address is not valid. Launch skillsign again from your course.",
    }
    # Sentences the code raises as errors without marking them for translation.
    raised = re.compile(r'raise [\w.]+\(\s*"([^"]{12,})"')
    for path in (ROOT / "lti_app").rglob("*.py"):
        if "demo" not in path.parts:
            extra |= set(raised.findall(path.read_text(encoding="utf-8")))
    for text in extra:
        if text and text not in found:
            found[text] = re.compile("^" + re.escape(text) + "$")
    return sorted(found.items())


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP:
            self._skip += 1
        for name, value in attrs:
            if name in ATTRIBUTES and value:
                self.nodes.append(value)
            if tag == "input" and name == "value" and ("type", "submit") in attrs and value:
                self.nodes.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            text = " ".join(data.split())
            if text:
                self.nodes.append(text)


def leaks(html: str, english: list[tuple[str, re.Pattern[str]]]) -> list[str]:
    """The visible texts of a page that are English UI strings."""
    parser = _Text()
    parser.feed(html)
    found = []
    for node in parser.nodes:
        for stripped in {node, node.strip(" :·()")}:
            hit = next((msgid for msgid, pattern in english if pattern.match(stripped)), None)
            if hit:
                found.append(f"{node!r} (msgid {hit!r})")
                break
    return found


@pytest.fixture
def spanish(app):
    """A course with requests in every state, a credential, and Spanish launches."""

    @app.get("/__boom")
    def _boom() -> str:  # an unexpected error: the 500 page
        raise RuntimeError("boom")

    world = make_world(app, learners=3)
    emerging = world.levels["emerging"]
    with app.app_context(), database(app).transaction() as session:
        make = signoff_requests.create
        common = {"context_id": world.context_a, "allowed_statements": world.statements}
        pending = make(
            session,
            learner_id=world.learner.id,
            statement_id=emerging[0],
            text="Ward 3",
            url="https://portfolio.example.edu/1",
            file=signoff_requests.EvidenceFile("e.txt", b"evidence"),
            **common,
        )
        declined = make(
            session, learner_id=world.learner.id, statement_id=emerging[1], text="x", **common
        )
        signoff_requests.decline(
            session,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            request_id=declined.id,
            comment="Add the date.",
        )
        make(session, learner_id=world.learners[1].id, statement_id=emerging[2], text="y", **common)
        result = signoffs.sign(
            session,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            learner_ids=[world.learners[2].id],
            statement_ids=emerging,
            note="Seen on the ward",
        )
        world.extra.update(
            request_id=pending.id,
            credential_id=result.credentials[0].id,
            level_id=result.credentials[0].level_id,
        )
    return world


def _pages(app, client, world) -> dict[str, str]:
    """Every page a learner and an instructor reach, in Spanish; name -> HTML."""
    pages: dict[str, str] = {}
    es = {"Accept-Language": "es"}
    learner = world.caller(client, world.learner, locale="es-ES")
    teacher = world.caller(client, world.instructor, locale="es")
    statement = world.levels["emerging"][5]
    learner_id, other = world.learner.id, world.learners[2].id

    def keep(name: str, answer, status: int = 200) -> None:
        assert answer.status_code == status, f"{name}: {answer.status_code}"
        pages[name] = answer.get_data(as_text=True)

    keep("learner checklist", learner.get("/checklist"))
    keep("learner request form", learner.get(f"/checklist/{statement}/request"))
    # A service's refusal (a UserError marked with N_), shown on the form.
    keep(
        "learner request refused",
        learner.post(f"/checklist/{statement}/request", {"text": "x", "url": "ftp://x"}),
        400,
    )
    learner.post(f"/checklist/{statement}/request", {"text": "Done on ward 3."})
    keep("learner checklist with flash", learner.get("/checklist"))
    keep("learner landing", learner.get("/", follow_redirects=True))
    keep(
        "instructor landing",
        world.caller(client, world.ta, locale="es").get("/", follow_redirects=True),
    )
    keep("credential page", client.get(f"/credentials/{world.extra['credential_id']}", headers=es))
    holder = world.caller(client, world.learners[2], locale="es")
    keep("holder checklist with a credential", holder.get("/checklist"))
    keep("add to a wallet", holder.get(f"/credentials/{world.extra['credential_id']}/wallet"))
    keep("achievement page", client.get(f"/achievements/{world.extra['level_id']}", headers=es))
    keep("issuer page", client.get("/issuer", headers=es))
    keep("verify page", client.get("/verify", headers=es))
    keep("home page", client.get("/", headers=es))

    keep("grid", teacher.get("/grid"))
    keep("grid, every learner selected", teacher.get("/grid?select=all"))
    keep(
        "grid confirm",
        teacher.post(
            "/grid/confirm",
            [
                ("learner", str(learner_id)),
                ("learner", str(other)),
                ("action", "level"),
                ("level", "emerging"),
            ],
        ),
    )
    second = world.learners[1].id
    teacher.post(
        "/grid/sign",
        [("learner", str(second)), ("action", "statement"), ("statement", str(statement))],
    )
    keep("grid after a sign-off (flashes)", teacher.get("/grid"))
    for status in ("pending", "approved", "declined", "withdrawn"):
        keep(f"requests {status}", teacher.get(f"/requests?status={status}"))
    keep(
        "requests confirm",
        teacher.post("/requests/decide", {"all": "1", "decision": "approve"}),
    )
    # A service's refusal flashed: the request was already decided.
    teacher.post(f"/requests/{world.extra['request_id']}/approve")
    teacher.post(f"/requests/{world.extra['request_id']}/approve")
    keep("requests with a refusal flashed", teacher.get("/requests"))
    keep("learner detail", teacher.get(f"/learners/{learner_id}"))
    keep(
        "learner sign confirm",
        teacher.post(f"/learners/{second}/sign", {"level": "emerging"}),
    )
    keep(
        "learner undo refused",
        teacher.post(f"/learners/{other}/undo", {"statement": str(statement)}),
        400,
    )
    keep("audit", teacher.get(f"/learners/{learner_id}/audit"))
    keep("cohort", teacher.get("/cohort"))
    keep("not found in a launch", teacher.get(f"/learners/{uuid.uuid4().int % 10**6 + 10**6}"), 404)
    keep("public not found", client.get("/no-such-page", headers=es), 404)
    keep("server error", client.get("/__boom", headers=es), 500)
    keep("session expired", client.get("/s/" + "x" * 43 + "/grid", headers=es), 401)
    keep("csrf refused", teacher.post("/grid/sign", {"action": "cells"}, csrf=False), 400)
    keep("learner on the grid", learner.get("/grid"), 403)
    keep("instructor on the admin pages", teacher.get("/admin/"), 403)
    form = client.get("/verify", headers=es).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    refused = client.post("/verify", data={"url": "ftp://x", "csrf_token": token}, headers=es)
    keep("verify a bad address", refused, 400)
    assert "CSRF" not in pages["verify a bad address"]  # the address was refused, not the form
    signed_out = world.caller(client, world.learners[1], locale="es")
    keep("signed out", signed_out.post("/sign-out"))
    return pages


def test_every_page_in_spanish_shows_no_english(app, client, spanish):
    english = english_strings()
    assert len(english) > 300
    pages = _pages(app, client, spanish)
    assert len(pages) >= 37
    found = {name: leaks(html, english) for name, html in pages.items()}
    found = {name: hits for name, hits in found.items() if hits}
    print(f"English UI strings on {len(pages)} Spanish pages: {sum(map(len, found.values()))}")
    assert not found, "English on Spanish pages:\n" + "\n".join(
        f"- {name}: {', '.join(hits[:12])}" for name, hits in found.items()
    )
    for name, html in pages.items():
        assert '<html lang="es">' in html, name


def test_the_check_finds_english(app, client, spanish):
    """The same check on the English pages finds English: it can fail."""
    english = english_strings()
    teacher = spanish.caller(client, spanish.instructor, locale="en")
    assert len(leaks(teacher.get("/grid").get_data(as_text=True), english)) > 10
    assert leaks("<p>Something went wrong</p><button>Sign out</button>", english) == [
        "'Something went wrong' (msgid 'Something went wrong')",
        "'Sign out' (msgid 'Sign out')",
    ]


def test_plural_forms_are_whole_sentences(app, client, spanish):
    teacher = spanish.caller(client, spanish.instructor, locale="es")
    one = [("learner", str(spanish.learners[1].id)), ("action", "statement")]
    teacher.post("/grid/sign", [*one, ("statement", str(spanish.levels["emerging"][7]))])
    page = teacher.get("/grid").get_data(as_text=True)
    assert "Se validó 1 enunciado para 1 estudiante." in page
    assert "Se validaron 1 enunciado" not in page


def test_the_language_menu_keeps_the_choice_on_the_person(app, client, spanish):
    learner = spanish.caller(client, spanish.learner, locale="es")  # the LMS says Spanish
    page = learner.get("/checklist").get_data(as_text=True)
    assert '<html lang="es">' in page
    assert re.search(r'<button type="submit" name="locale" value="en" lang="en"', page)
    chosen = learner.post("/language", {"locale": "en", "next": learner.url("/checklist")})
    assert chosen.status_code == 303 and chosen.headers["Location"].endswith("/checklist")
    with app.app_context(), database(app).transaction() as session:
        assert session.scalar(select(User.ui_locale).where(User.id == spanish.learner.id)) == "en"
    assert '<html lang="en">' in learner.get("/checklist").get_data(as_text=True)
    # A later launch, still with a Spanish LMS locale, opens in the chosen language.
    again = spanish.caller(client, spanish.learner, locale="es")
    assert '<html lang="en">' in again.get("/checklist").get_data(as_text=True)
    # Another site is never a destination; an unknown language is refused.
    away = learner.post("/language", {"locale": "es", "next": "https://elsewhere.example/"})
    assert "elsewhere" not in away.headers["Location"]
    assert learner.post("/language", {"locale": "fr"}).status_code == 400
    # On a page a form made (a confirmation), the menu leads back to the launch's landing,
    # never to an address that only takes a POST.
    teacher = spanish.caller(client, spanish.instructor, locale="es")
    form = [("learner", str(spanish.learner.id)), ("action", "level"), ("level", "emerging")]
    confirm = teacher.post("/grid/confirm", form).get_data(as_text=True)
    menu = re.search(r'<form class="language-menu".*?</form>', confirm, re.S).group(0)
    assert 'name="next"' not in menu
    back = teacher.post("/language", {"locale": "en"})
    assert back.status_code == 303 and back.headers["Location"].endswith(f"/s/{teacher.token}/")
    assert learner.post("/language", {"locale": "es"}, csrf=False).status_code == 400


def test_public_pages_take_lang_and_remember_it(app, client):
    first = client.get("/verify?lang=es", headers={"Accept-Language": "en"})
    assert '<html lang="es">' in first.get_data(as_text=True)
    assert "skillsign_lang=es" in first.headers.get("Set-Cookie", "")
    later = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="es">' in later
    assert 'href="/?lang=en"' in later and 'aria-current="true"' in later
