"""The checklist flow in Chromium, through the built-in demo LMS: a learner launches and
asks for a sign-off with evidence; an instructor launches, approves it and signs the
rest of the level in bulk; the learner sees the progress, then the credential.
Every page on the way is checked with axe-core and kept as a screenshot."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from lti_app.db.models import Credential, SignoffEvent, SignoffRequest
from lti_app.request_db import database

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _launch(tab, user_id: str) -> None:
    """From the demo LMS's course page, open the checklist activity as ``user_id``."""
    tab.goto("/demo-lms/")
    tab.page.select_option("#launch-as-1", user_id)
    tab.page.locator("form.launch-form").first.locator("button[type=submit]").click()
    tab.page.wait_for_url(re.compile(r"/s/[^/]+/(checklist|grid)"))


def _count(app, model, *where) -> int:
    with database(app).transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_request_approve_bulk_sign_then_credential(app, tab, tmp_path):
    page = tab.page
    tab.goto("/demo-lms/")
    tab.visit("demo-lms-home")

    # -- the learner asks for 1.1 with evidence ----------------------------------------
    _launch(tab, "demo-learner-1")
    assert "/checklist" in page.url
    tab.visit("learner-checklist-start")
    page.locator(".state-not_yet a.button").first.click()
    page.wait_for_url(re.compile(r"/request$"))
    tab.visit("learner-request-form")
    page.fill("#text", "Morning care on ward 3 on 12 May, observed by the charge nurse.")
    page.fill("#url", "https://portfolio.example.edu/entries/12")
    evidence = tmp_path / "observation.png"
    evidence.write_bytes(PNG)
    page.set_input_files("#file", str(evidence))
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(re.compile(r"/checklist"))
    assert page.locator(".flash-success").count() == 1
    assert page.locator(".state-requested").count() == 1
    tab.visit("learner-checklist-requested")
    assert _count(app, SignoffRequest, SignoffRequest.status == "pending") == 1

    # -- the instructor approves it and signs the rest of the level ----------------------
    _launch(tab, "demo-instructor")
    assert "/grid" in page.url
    # The first view never waits on the LMS: it says the roster is being read, and the
    # worker's sync (NRPS) brings the learners who never launched.
    assert page.locator("p.notice[role=status]").count() == 1
    for _ in range(50):
        if page.locator("input.row-select").count() == 5:
            break
        page.wait_for_timeout(200)
        page.reload()
    assert page.locator("input.row-select").count() == 5
    assert page.locator("tbody th[scope=row]", has_text="Nguyễn").count() == 1
    tab.visit("instructor-grid-before")
    page.click("a[href$='/requests']")
    page.wait_for_url(re.compile(r"/requests$"))
    tab.visit("instructor-requests")
    request = page.locator("article.request").first
    assert request.locator("a[download]").count() == 1  # the evidence file
    request.locator("form").first.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/requests"))
    assert _count(app, SignoffRequest, SignoffRequest.status == "approved") == 1
    assert _count(app, SignoffEvent) == 1

    tab.goto(page.url.rsplit("/requests", 1)[0] + "/grid")
    learner_row = page.locator("tr", has=page.locator("th[scope=row]", has_text="Ødegård"))
    learner_row.locator("input.row-select").check()
    page.click("button[name=action][value=level]")
    page.wait_for_url(re.compile(r"/grid/confirm$"))
    tab.visit("instructor-confirm")
    page.click("form.confirm button[type=submit]")
    page.wait_for_url(re.compile(r"/grid"))
    tab.visit("instructor-grid-after")
    assert _count(app, Credential) == 1
    assert _count(app, SignoffEvent) == 10  # the approved one + the other nine of the level

    page.locator("th[scope=row] a", has_text="Ødegård").click()
    page.wait_for_url(re.compile(r"/learners/\d+$"))
    tab.visit("instructor-learner")
    page.click("a[href$='/audit']")
    page.wait_for_url(re.compile(r"/audit$"))
    tab.visit("instructor-audit")
    # The request, ten sign-offs, the approval, the credential.
    assert page.locator("table.audit tbody tr").count() >= 12
    page.click("nav.launch-nav a[href$='/cohort']")
    page.wait_for_url(re.compile(r"/cohort$"))
    tab.visit("instructor-cohort")
    assert page.locator("svg[role=img] title").count() == 1

    # -- the learner sees the level complete and opens the credential ---------------------
    _launch(tab, "demo-learner-1")
    assert page.locator(".state-met").count() == 10
    assert page.locator("progress").first.get_attribute("value") == "10"
    tab.visit("learner-checklist-complete")
    link = page.locator("section.credentials a").first
    href = link.get_attribute("href")
    assert href and re.search(r"/credentials/[0-9a-f-]{36}$", href)
    tab.goto(href)
    tab.visit("credential-page")
