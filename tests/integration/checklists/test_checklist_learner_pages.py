"""The learner's pages through the test client: checklist, request with evidence, withdraw."""

from __future__ import annotations

import io

from sqlalchemy import select

from lti_app.db.models import SignoffRequest
from lti_app.request_db import database

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def _requests(app):
    with app.app_context(), database(app).transaction() as session:
        return list(session.scalars(select(SignoffRequest).order_by(SignoffRequest.id)))


def test_checklist_lists_linked_levels_and_statements(client, world):
    page = world.caller(client, world.learner).get("/checklist")
    assert page.status_code == 200
    html = page.text
    assert html.count('class="statement state-not_yet"') == 20
    assert "Emerging" in html and "Developing" in html
    assert 'aria-labelledby="progress-emerging"' in html  # each level's progress bar is named
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-resize.js" in html


def test_request_with_evidence_file_then_withdraw(app, client, world):
    learner = world.caller(client, world.learner)
    statement = world.statements[0]
    form = learner.get(f"/checklist/{statement}/request")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    sent = learner.post(
        f"/checklist/{statement}/request",
        {
            "text": "Morning care on ward 3, observed by the charge nurse.",
            "url": "https://portfolio.example.edu/entry/7",
            "file": (io.BytesIO(PNG), "photo.png"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 303, sent.text
    page = learner.get("/checklist")
    assert "Your request for 1.1 was sent to your instructors." in page.text
    assert 'class="statement state-requested"' in page.text
    (row,) = _requests(app)
    assert (row.status, row.evidence_file_type, row.evidence_url) == (
        "pending",
        "image/png",
        "https://portfolio.example.edu/entry/7",
    )

    download = learner.get(f"/evidence/{row.id}")
    assert download.status_code == 200
    assert download.data == PNG
    assert download.headers["Content-Type"] == "image/png"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in download.headers["Content-Security-Policy"]
    # Another learner of the course gets nothing, not even a hint that it exists.
    assert world.caller(client, world.learners[1]).get(f"/evidence/{row.id}").status_code == 404

    withdrawn = learner.post(f"/checklist/requests/{row.id}/withdraw")
    assert withdrawn.status_code == 303
    assert _requests(app)[0].status == "withdrawn"
    assert "Your request was withdrawn." in learner.get("/checklist").text


def test_bad_evidence_keeps_the_form_and_says_why(app, client, world):
    learner = world.caller(client, world.learner)
    statement = world.statements[1]
    page = learner.post(
        f"/checklist/{statement}/request",
        {
            "text": "My evidence",
            "url": "javascript:alert(1)",
            "file": (io.BytesIO(b"MZ\x90\x00binary"), "report.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert page.status_code == 400
    assert "The link must start with http:// or https://." in page.text
    assert 'role="alert"' in page.text
    assert "My evidence" in page.text  # what the learner typed is kept
    exe = learner.post(
        f"/checklist/{statement}/request",
        {"text": "My evidence", "file": (io.BytesIO(b"MZ\x90\x00\x03binary"), "report.pdf")},
        content_type="multipart/form-data",
    )
    assert exe.status_code == 400
    assert "not a PDF, PNG, JPEG or plain text file" in exe.text
    assert _requests(app) == []


def test_post_without_csrf_token_is_refused(app, client, world):
    learner = world.caller(client, world.learner)
    page = learner.post(f"/checklist/{world.statements[0]}/request", {"text": "x"}, csrf=False)
    assert page.status_code == 400
    assert _requests(app) == []


def test_learner_of_another_course_never_sees_course_a(client, world):
    outsider = world.caller(client, world.other_learner)
    page = outsider.get("/checklist")
    assert page.status_code == 200
    assert world.learner.name not in page.text
    # A statement id of course A's link is not in B's checklist if B links other levels; here
    # both link the same levels, so B asks in course B: the request belongs to course B.
    assert outsider.get("/evidence/1").status_code == 404


def test_instructor_has_no_learner_checklist(client, world):
    assert world.caller(client, world.instructor).get("/checklist").status_code == 403
