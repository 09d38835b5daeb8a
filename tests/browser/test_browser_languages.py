"""Both languages in Chromium at 375 and 1280 px: every page touched by the language menu,
the confirmations and the way back passes axe (no serious or critical violation), and the
menu switches a launch's pages and remembers the choice."""

from __future__ import annotations

import re

import pytest
from support.checklist_world import launch_token, make_world

from lti_app.request_db import database
from lti_app.services import signoffs


@pytest.fixture
def course(app):
    world = make_world(app, learners=3, level_keys=["emerging"])
    with database(app).transaction() as session:
        signoffs.sign(
            session,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            learner_ids=[world.learners[1].id],
            statement_ids=world.statements[:9],
        )
    return world


@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("locale", ["en", "es"])
def test_pages_pass_axe_in_both_languages(app, new_tab, course, width, locale):
    tab = new_tab(width, locale)
    page = tab.page
    learner = launch_token(app, course.learner, platform_id=course.platform_id, locale=locale)
    teacher = launch_token(app, course.instructor, platform_id=course.platform_id, locale=locale)
    name = f"{locale}-{width}"

    for path, label in (
        (f"/?lang={locale}", "home"),
        ("/verify", "verify"),
        ("/no-such-page", "error-404"),
        (f"/s/{learner}/checklist", "learner-checklist"),
        (f"/s/{teacher}/grid", "grid"),
        (f"/s/{teacher}/learners/{course.learners[1].id}", "learner-detail"),
        ("/demo-lms/", "demo-lms-home"),
    ):
        tab.goto(path)
        assert page.locator("html").get_attribute("lang") == locale, (label, path)
        tab.visit(f"{label}-{name}")
    # The learner page's "every remaining statement" confirms (it issues a credential).
    tab.goto(f"/s/{teacher}/learners/{course.learners[1].id}")
    page.click("form.level-sign button[type=submit]")
    page.wait_for_url(re.compile(r"/sign$"))
    assert page.locator("form.confirm").count() == 1
    tab.visit(f"learner-sign-confirm-{name}")
    # The grid's confirmation, with its exact counts.
    tab.goto(f"/s/{teacher}/grid")
    page.click("#select-all")
    page.click("button[name=action][value=level]")
    page.wait_for_url(re.compile(r"/grid/confirm$"))
    tab.visit(f"grid-confirm-{name}")
    # Signing out, with the way back when the launch gave one (none here).
    tab.goto(f"/s/{learner}/checklist")
    page.click("form.sign-out button")
    page.wait_for_load_state("load")
    tab.visit(f"signed-out-{name}")


def test_the_menu_switches_a_launch_and_remembers(app, new_tab, course):
    tab = new_tab(375, "es")
    page = tab.page
    token = launch_token(app, course.learner, platform_id=course.platform_id, locale="es")
    tab.goto(f"/s/{token}/checklist")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("button", name="English").get_attribute("aria-pressed") == "false"
    tab.click("form.language-menu button[value=en]")
    page.wait_for_url(re.compile(r"/checklist$"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("button", name="English").get_attribute("aria-pressed") == "true"
    tab.visit("menu-switched-en-375")
    # The public pages follow the choice (a cookie), whatever the browser's language.
    tab.goto("/verify")
    assert page.locator("html").get_attribute("lang") == "en"
    # A new launch with the LMS still in Spanish opens in the chosen language.
    again = launch_token(app, course.learner, platform_id=course.platform_id, locale="es")
    tab.goto(f"/s/{again}/checklist")
    assert page.locator("html").get_attribute("lang") == "en"
