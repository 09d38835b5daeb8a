"""The demo LMS sets each person's language (the launch's locale claim); the tool opens in
it until the person picks another language in the tool's menu, which then wins."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from sqlalchemy import select

from lti_app.db.models import User
from lti_app.demo.seed import PRESET_LINK_ID
from lti_app.request_db import database


def _lang(html: str) -> str:
    return re.search(r'<html lang="(\w+)"', html).group(1)


def _set_language(browser, user_id: str, locale: str):
    return browser.http.post(
        f"{browser.lms}/people/{user_id}/language",
        data={"csrf_token": browser.csrf(), "locale": locale},
        allow_redirects=False,
        timeout=10,
    )


def test_each_demo_person_launches_in_their_language(app, browser):
    home = browser.home().text
    assert home.count('name="locale"') == 7  # one menu per person of the course
    assert 'id="locale-3"' in home and "Language of Zoë Ødegård" in home
    assert _set_language(browser, "demo-learner-1", "es").status_code == 303
    page = browser.launch(PRESET_LINK_ID, "demo-learner-1").page
    assert _lang(page.text) == "es" and "Mi lista de competencias" in page.text
    assert _set_language(browser, "demo-learner-1", "en").status_code == 303
    page = browser.launch(PRESET_LINK_ID, "demo-learner-1").page
    assert _lang(page.text) == "en" and "My checklist" in page.text
    # Only the offered languages, only people of the course, only with the form's token.
    assert _set_language(browser, "demo-learner-1", "fr").status_code == 400
    assert _set_language(browser, "nobody", "es").status_code == 400
    refused = browser.http.post(
        f"{browser.lms}/people/demo-learner-1/language", data={"locale": "es"}, timeout=10
    )
    assert refused.status_code == 400


def test_the_tool_menu_wins_over_the_lms_language(app, browser):
    _set_language(browser, "demo-learner-2", "es")
    page = browser.launch(PRESET_LINK_ID, "demo-learner-2").page
    assert _lang(page.text) == "es"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    action = re.search(r'<form class="language-menu" method="post" action="([^"]+)"', page.text)
    path = re.search(r"/s/[^/]+/checklist", page.url).group(0)
    chosen = browser.http.post(
        urljoin(page.url, action.group(1)),
        data={"csrf_token": csrf, "locale": "en", "next": path},
        timeout=10,
    )
    assert chosen.status_code == 200 and _lang(chosen.text) == "en"
    with database(app).transaction() as session:
        stored = session.scalar(select(User.ui_locale).where(User.sub == "demo-learner-2"))
    assert stored == "en"
    # The LMS still says Spanish; the person's choice stands in the next launch.
    again = browser.launch(PRESET_LINK_ID, "demo-learner-2").page
    assert _lang(again.text) == "en"
