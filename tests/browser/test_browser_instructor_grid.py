"""The grid for a class of 30 in Chromium: a whole level in a few clicks, the same by
keyboard alone, and the pages no flow above reaches (admin, verify, errors) under axe."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from support.checklist_world import launch_token, make_world

from lti_app.db.models import Credential, SignoffEvent
from lti_app.request_db import database


def _count(app, model) -> int:
    with database(app).transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def _open(app, tab, world, person, path: str, **kwargs) -> None:
    token = launch_token(app, person, platform_id=world.platform_id, **kwargs)
    tab.goto(f"/s/{token}{path}")


def test_a_level_for_thirty_learners_in_three_clicks(app, tab):
    world = make_world(app, learners=30, level_keys=["emerging"])
    _open(app, tab, world, world.instructor, "/grid")
    page = tab.page
    assert page.locator("input.row-select").count() == 30
    tab.visit("instructor-grid-30")

    tab.click("#select-all")  # 1
    assert page.locator("#selection-count").inner_text() == "30 learners selected"
    tab.click("button[name=action][value=level]")  # 2: the linked level is preselected
    page.wait_for_url(re.compile(r"/grid/confirm$"))
    assert "10 statements for 30 learners" in page.locator("p.lead").inner_text()
    tab.click("form.confirm button[type=submit]")  # 3
    page.wait_for_url(re.compile(r"/grid$"))
    assert tab.clicks < 10
    assert _count(app, SignoffEvent) == 300
    assert _count(app, Credential) == 30
    assert page.locator("td.cell.met").count() == 300
    tab.visit("instructor-grid-30-done")


def test_the_grid_by_keyboard_alone(app, tab):
    world = make_world(app, learners=4, level_keys=["emerging"])
    _open(app, tab, world, world.instructor, "/grid")
    page = tab.page

    def tab_to(predicate: str, limit: int = 80) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(predicate):
                return
        raise AssertionError(f"Tab never reached {predicate}")

    # The row checkboxes and cell checkboxes have names a screen reader announces.
    first_learner = page.locator("tbody th[scope=row]").first.inner_text()
    assert page.get_by_role("checkbox", name=f"Select {first_learner}").count() == 1
    assert (
        page.get_by_role("checkbox", name=re.compile(re.escape(first_learner) + r" 1\.3 ")).count()
        == 1
    )
    grid = page.get_by_role("table", name=re.compile("Learners .rows. and statements"))
    assert grid.count() == 1  # a real table, named by its caption
    # Column headers: the learner, ten statements, the progress.
    assert page.locator("table.grid th[scope=col]").count() == 12

    tab_to("document.activeElement.id === 'select-all'")
    page.keyboard.press("Space")
    tab_to("document.activeElement.value === 'level' && document.activeElement.name === 'action'")
    # Shift+Tab order is the reading order: the level button comes after the level select.
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/grid/confirm$"))
    tab_to(
        "document.activeElement.closest('form.confirm') && document.activeElement.type === 'submit'"
    )
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/grid$"))
    assert _count(app, SignoffEvent) == 40


def test_admin_verify_and_error_pages(app, tab):
    world = make_world(app, learners=2)
    token = launch_token(app, world.admin, platform_id=world.platform_id, tool_admin=True)
    for path, name in (
        ("/admin/", "admin-platforms"),
        ("/admin/frameworks", "admin-frameworks"),
        ("/admin/issuer", "admin-issuer"),
        ("/admin/keys", "admin-keys"),
    ):
        tab.goto(f"/s/{token}{path}")
        tab.visit(name)
    # A framework with mistakes: the page lists each with its place in the file.
    tab.goto(f"/s/{token}/admin/frameworks")
    tab.page.set_input_files(
        "#framework-file",
        files=[
            {
                "name": "broken.json",
                "mimeType": "application/json",
                "buffer": b'{"framework": {"levels": 3}}',
            }
        ],
    )
    tab.page.click("form.stacked button[type=submit]")
    tab.page.wait_for_selector(".error-box")
    assert tab.page.locator("ol.problems li").count() >= 1
    tab.visit("admin-framework-errors")

    tab.goto("/")
    tab.visit("index")
    tab.goto("/verify")
    tab.visit("verify")
    tab.goto("/s/" + "x" * 43 + "/grid")
    assert tab.page.locator("h1").inner_text()
    tab.visit("error-session-expired")


def test_pages_ask_the_lms_frame_to_fit_them(app, tab):
    """Inside an LMS iframe the page posts lti.frameResize with its height."""
    world = make_world(app, learners=2)
    token = launch_token(app, world.learner, platform_id=world.platform_id)
    parent = f"{tab.base_url}/__lms_frame_test"
    html = (
        "<!doctype html><title>LMS</title><script>window.sizes=[];"
        "addEventListener('message',e=>{if(e.data&&e.data.subject==='lti.frameResize')"
        "window.sizes.push(e.data.height)});</script>"
        f'<iframe title="tool" src="/s/{token}/checklist" width="600" height="200"></iframe>'
    )
    # The parent page is served on the tool's origin (frame-ancestors allows 'self').
    tab.page.route(
        parent, lambda route: route.fulfill(status=200, content_type="text/html", body=html)
    )
    tab.page.goto(parent)
    tab.page.wait_for_function("window.sizes.length > 0")
    height = tab.page.evaluate("Math.max(...window.sizes)")
    assert height > 600  # the checklist of 20 statements is taller than the 200 px frame
