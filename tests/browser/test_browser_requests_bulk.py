"""The requests queue in Chromium: 30 waiting requests approved in three clicks (select all,
approve, confirm), the same page without JavaScript, and axe at 375 and 1280 px in English
and Spanish."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from support.checklist_world import launch_token, make_world

from lti_app.db.models import Credential, SignoffEvent, SignoffRequest
from lti_app.request_db import database
from lti_app.services import signoff_requests

CLICKS_BEFORE = 30  # one "Approve and sign off" button per request, before the bulk form


def _count(app, model, *where) -> int:
    with database(app).transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _world_with_requests(app, learners: int):
    world = make_world(app, learners=learners, level_keys=["emerging"])
    with database(app).transaction() as session:
        for person in world.learners:
            signoff_requests.create(
                session,
                learner_id=person.id,
                context_id=world.context_a,
                statement_id=world.statements[0],
                text=f"Evidence of {person.name}",
                allowed_statements=world.statements,
            )
    return world


def test_thirty_requests_approved_in_three_clicks(app, tab):
    world = _world_with_requests(app, 30)
    token = launch_token(app, world.instructor, platform_id=world.platform_id)
    tab.goto(f"/s/{token}/requests")
    page = tab.page
    assert page.locator("input.request-select-box").count() == 30
    tab.visit("requests-30")

    tab.click("#select-all-requests")  # 1
    assert page.locator("input.request-select-box:checked").count() == 30
    assert page.locator("#request-selection-count").inner_text() == "30 requests selected"
    tab.click("#bulk-decide button[value=approve]")  # 2
    page.wait_for_url(re.compile(r"/requests/decide$"))
    lead = page.locator("p.lead").inner_text()
    assert "You are approving 30 requests: 1 statement for 30 learners." in lead
    tab.visit("requests-30-confirm")
    tab.click("form.confirm button[type=submit]")  # 3
    page.wait_for_url(re.compile(r"/requests$"))
    assert tab.clicks == 3 < CLICKS_BEFORE
    assert _count(app, SignoffRequest, SignoffRequest.status == "approved") == 30
    assert _count(app, SignoffEvent) == 30
    assert _count(app, Credential) == 0  # one statement of ten: no level is complete
    assert "30 requests approved and signed off." in page.locator(".flashes").inner_text()
    tab.visit("requests-30-done")


def test_select_all_works_without_javascript(app, new_tab):
    """The same three clicks with scripts off: the "All shown" box is read by the server."""
    world = _world_with_requests(app, 5)
    token = launch_token(app, world.instructor, platform_id=world.platform_id)
    tab = new_tab(1280, "en-US", java_script_enabled=False)
    page = tab.page
    tab.goto(f"/s/{token}/requests")
    tab.click("#select-all-requests")
    page.fill("#bulk-comment", "Seen on the ward.")
    tab.click("#bulk-decide button[value=approve]")
    page.wait_for_url(re.compile(r"/requests/decide$"))
    tab.click("form.confirm button[type=submit]")
    page.wait_for_url(re.compile(r"/requests$"))
    assert tab.clicks == 3
    assert _count(app, SignoffRequest, SignoffRequest.status == "approved") == 5
    with database(app).transaction() as session:
        comments = set(session.scalars(select(SignoffRequest.decision_comment)))
    assert comments == {"Seen on the ward."}


@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("locale", ["en", "es"])
def test_requests_pages_pass_axe(app, new_tab, width, locale):
    world = _world_with_requests(app, 3)
    token = launch_token(app, world.instructor, platform_id=world.platform_id, locale=locale)
    tab = new_tab(width, locale)
    tab.goto(f"/s/{token}/requests")
    assert tab.page.locator("html").get_attribute("lang") == locale
    tab.visit(f"requests-{locale}-{width}")
    tab.page.click("#select-all-requests")
    tab.page.click("#bulk-decide button[value=approve]")
    tab.page.wait_for_url(re.compile(r"/requests/decide$"))
    tab.visit(f"requests-confirm-{locale}-{width}")
    tab.goto(f"/s/{token}/grid")
    tab.visit(f"grid-{locale}-{width}")
