"""The way back and the way in: a launch's pages lead back to the course
(launch_presentation.return_url), also after signing out; the home page leads to the demo
LMS (when it is on) and to /verify."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

from lti_app import create_app
from lti_app.demo.seed import PRESET_LINK_ID


def _back_link(html: str) -> tuple[str, str] | None:
    found = re.search(
        r'<a class="back-to-course" href="([^"]+)" target="(_top)">(Back to course|Volver al curso)</a>',
        html,
    )
    found = found or re.search(r'<a href="([^"]+)" target="(_top)">(Back to course)</a>', html)
    return (unescape(found.group(1)), found.group(2)) if found else None


def test_every_launch_page_leads_back_to_the_course(browser, stack):
    landing = browser.launch(PRESET_LINK_ID, "demo-learner-1")
    page = landing.page
    assert page is not None and page.status_code == 200
    # The demo LMS sends return_url = its own home page.
    assert _back_link(page.text) == (browser.lms + "/", "_top")
    assert browser.http.get(_back_link(page.text)[0], timeout=10).status_code == 200
    # Frame resizing is kept on the pages that have the link.
    assert "js/frame-resize.js" in page.text
    # Signing out keeps the way back.
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    action = re.search(r'<form class="sign-out" method="post" action="([^"]+)"', page.text)
    out = browser.http.post(urljoin(page.url, action.group(1)), data={"csrf_token": csrf})
    assert out.status_code == 200 and "You have signed out" in out.text
    assert _back_link(out.text) == (browser.lms + "/", "_top")
    assert "js/frame-resize.js" in out.text


def test_the_instructor_pages_lead_back_too(browser):
    # The demo instructor's LMS language is Spanish: the link is in Spanish.
    landing = browser.launch(PRESET_LINK_ID, "demo-instructor")
    grid = landing.page
    assert "/grid" in grid.url
    assert _back_link(grid.text) == (browser.lms + "/", "_top")
    assert ">Volver al curso</a>" in grid.text


def test_home_links_to_the_demo_lms_and_to_verify(browser, stack):
    home = browser.http.get(stack.url + "/", timeout=10).text
    assert 'href="/demo-lms/"' in home and "Try it in the demo LMS" in home
    assert 'href="/verify"' in home
    assert browser.http.get(stack.url + "/demo-lms/", timeout=10).status_code == 200


def test_home_without_the_demo_lms_links_only_to_verify(database_url, tmp_path):
    app = create_app(
        {
            "ENV": "test",
            "TESTING": True,
            "DEMO_LMS": False,
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret",
        }
    )
    try:
        home = app.test_client().get("/").text
    finally:
        app.extensions["skillsign.db"].dispose()
    assert "demo-lms" not in home
    assert 'href="/verify"' in home
