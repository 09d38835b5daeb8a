"""Learners' requests for sign-off: evidence checks, withdraw, approve, decline, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lti_app.db.models import AuditEvent, SignoffEvent, SignoffRequest
from lti_app.request_db import database
from lti_app.services import progress, signoff_requests, signoffs
from lti_app.services.errors import AppError

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 20
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 10
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"


@pytest.fixture
def tx(app):
    """One transaction per test block, like a request."""

    def run(fn):
        with app.app_context(), database(app).transaction() as session:
            return fn(session)

    return run


def _create(world, session, **overrides):
    args = {
        "learner_id": world.learner.id,
        "context_id": world.context_a,
        "statement_id": world.statements[0],
        "text": "Assisted with morning routines on ward 3, observed by the charge nurse.",
        "allowed_statements": world.statements,
    }
    args.update(overrides)
    return signoff_requests.create(session, **args)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PNG, "image/png"),
        (PDF, "application/pdf"),
        (JPEG, "image/jpeg"),
        (b"Observed on 3 May.\nSigned: R.N.\f\n", "text/plain"),
        ("Ünïcödé text ✓".encode(), "text/plain"),
        (EXE, None),
        (b"\x00\x01binary", None),
        (b"\xff\xfe not utf-8 \xfa", None),
        (b"text with a bell \x07", None),
    ],
)
def test_sniffing_judges_the_content(data, expected):
    assert signoff_requests.sniff_type(data) == expected


def test_file_name_follows_the_content_not_the_claim():
    # An executable renamed report.pdf is refused; a PNG named .pdf is stored as .png.
    with pytest.raises(signoff_requests.RequestError, match="not a PDF, PNG, JPEG or plain text"):
        signoff_requests.check_file(signoff_requests.EvidenceFile("report.pdf", EXE))
    assert signoff_requests.check_file(
        signoff_requests.EvidenceFile("C:\\Users\\me\\scan.pdf", PNG)
    ) == (
        "image/png",
        "scan.pdf.png",
    )
    assert signoff_requests.check_file(
        signoff_requests.EvidenceFile("../../etc/photo.JPEG", JPEG)
    ) == (
        "image/jpeg",
        "photo.JPEG",
    )
    assert signoff_requests.check_file(
        signoff_requests.EvidenceFile("notes\x00\n.txt", b"hello")
    ) == (
        "text/plain",
        "notes.txt",
    )


def test_file_size_limit_and_empty_file():
    big = PDF + b"0" * signoff_requests.FILE_LIMIT
    with pytest.raises(signoff_requests.RequestError) as exc:
        signoff_requests.check_file(signoff_requests.EvidenceFile("big.pdf", big))
    assert exc.value.status == 413
    assert "the limit is 5.0 MB" in exc.value.detail
    with pytest.raises(signoff_requests.RequestError, match="empty"):
        signoff_requests.check_file(signoff_requests.EvidenceFile("x.txt", b""))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("javascript:alert(1)", "must start with http:// or https://"),
        ("data:text/html,<script>x</script>", "must start with http:// or https://"),
        ("ftp://files.example.edu/x", "must start with http:// or https://"),
        ("https://", "no host name"),
        ("https://user:secret@example.edu/doc", "user name or password"),
        ("https://example.edu/a b", "spaces or control characters"),
        ("https://example.edu:99999/", "not a valid web address"),
        ("https://example.edu/" + "a" * 3000, "the limit is 2048"),
    ],
)
def test_bad_links_are_refused_with_the_reason(url, message):
    with pytest.raises(signoff_requests.RequestError, match=message):
        signoff_requests.clean_url(url)


def test_good_links_pass():
    assert (
        signoff_requests.clean_url("  https://docs.example.edu/e?id=1#x ")
        == "https://docs.example.edu/e?id=1#x"
    )
    assert signoff_requests.clean_url("HTTP://Example.edu") == "HTTP://Example.edu"
    assert signoff_requests.clean_url("") is None


def test_create_stores_evidence_and_audits(world, tx):
    def run(session):
        request = _create(
            world,
            session,
            url="https://portfolio.example.edu/me",
            file=signoff_requests.EvidenceFile("observation.png", PNG),
        )
        return request.id

    request_id = tx(run)

    def check(session):
        row = session.get(SignoffRequest, request_id)
        assert row.status == "pending"
        assert row.evidence_file == PNG
        assert row.evidence_file_type == "image/png"
        assert row.evidence_file_name == "observation.png"
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "request.create")
        ).all()
        assert [e.details["request_id"] for e in events] == [request_id]
        assert events[0].details["file"]["bytes"] == len(PNG)
        assert events[0].subject_user_id == world.learner.id

    tx(check)


def test_create_refuses_duplicates_met_statements_and_outsiders(world, tx):
    tx(lambda s: _create(world, s))
    with pytest.raises(signoff_requests.RequestError, match="already asked") as exc:
        tx(lambda s: _create(world, s))
    assert exc.value.status == 409

    # Signed off already: nothing to ask for.
    tx(
        lambda s: signoffs.sign(
            s,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            learner_ids=[world.learners[1].id],
            statement_ids=[world.statements[1]],
        )
    )
    with pytest.raises(signoff_requests.RequestError, match="already signed off"):
        tx(
            lambda s: _create(
                world, s, learner_id=world.learners[1].id, statement_id=world.statements[1]
            )
        )

    # A statement outside the link, a learner of another course, an instructor.
    with pytest.raises(signoff_requests.RequestError, match="not part of your checklist"):
        tx(lambda s: _create(world, s, allowed_statements=world.statements[1:]))
    for outsider in (world.other_learner, world.instructor):
        with pytest.raises(
            signoff_requests.RequestError, match="Only learners of this course"
        ) as exc:
            tx(lambda s, who=outsider: _create(world, s, learner_id=who.id))
        assert exc.value.status == 403
    with pytest.raises(signoff_requests.RequestError, match="Describe your evidence"):
        tx(lambda s: _create(world, s, statement_id=world.statements[2], text="   "))


def test_withdraw_only_own_pending(world, tx):
    request_id = tx(lambda s: _create(world, s).id)
    with pytest.raises(signoff_requests.RequestError, match="no such request of yours") as exc:
        tx(
            lambda s: signoff_requests.withdraw(
                s, learner_id=world.learners[1].id, request_id=request_id
            )
        )
    assert exc.value.status == 404
    tx(lambda s: signoff_requests.withdraw(s, learner_id=world.learner.id, request_id=request_id))
    with pytest.raises(signoff_requests.RequestError, match="withdrew this request"):
        tx(
            lambda s: signoff_requests.withdraw(
                s, learner_id=world.learner.id, request_id=request_id
            )
        )
    actions = tx(
        lambda s: [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    )
    assert actions == ["request.create", "request.withdraw"]


def test_approve_signs_with_the_request_and_a_second_approval_names_the_first(world, tx):
    request_id = tx(lambda s: _create(world, s, url="https://example.edu/evidence").id)
    decision = tx(
        lambda s: signoff_requests.approve(
            s,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            request_id=request_id,
            comment="Seen on the ward.",
            allowed_statements=world.statements,
        )
    )
    assert decision.request.status == "approved"
    assert not decision.already_met

    def check(session):
        (event,) = session.scalars(select(SignoffEvent)).all()
        assert event.request_id == request_id
        assert event.actor_id == world.instructor.id
        assert event.evidence["url"] == "https://example.edu/evidence"
        assert world.statements[0] in progress.met_statement_ids(
            session, world.learner.id, world.statements
        )

    tx(check)
    with pytest.raises(
        signoff_requests.RequestError, match="already approved by Irene Instructor"
    ) as exc:
        tx(
            lambda s: signoff_requests.approve(
                s, actor_id=world.ta.id, context_id=world.context_a, request_id=request_id
            )
        )
    assert exc.value.status == 409
    assert exc.value.params["name"] == "Irene Instructor"


def test_decline_needs_a_comment_and_only_staff_decide(world, tx):
    request_id = tx(lambda s: _create(world, s).id)
    with pytest.raises(signoff_requests.RequestError, match="Say why"):
        tx(
            lambda s: signoff_requests.decline(
                s,
                actor_id=world.instructor.id,
                context_id=world.context_a,
                request_id=request_id,
                comment=" ",
            )
        )
    for outsider in (world.learner, world.other_instructor):
        with pytest.raises(AppError) as exc:
            tx(
                lambda s, who=outsider: signoff_requests.decline(
                    s,
                    actor_id=who.id,
                    context_id=world.context_a,
                    request_id=request_id,
                    comment="no",
                )
            )
        assert exc.value.status == 403
    # An instructor of course B cannot reach course A's request through their own course either.
    with pytest.raises(signoff_requests.RequestError, match="no such request in this course"):
        tx(
            lambda s: signoff_requests.decline(
                s,
                actor_id=world.other_instructor.id,
                context_id=world.context_b,
                request_id=request_id,
                comment="no",
            )
        )
    tx(
        lambda s: signoff_requests.decline(
            s,
            actor_id=world.ta.id,
            context_id=world.context_a,
            request_id=request_id,
            comment="Add the date of the observation.",
        )
    )
    row = tx(lambda s: s.get(SignoffRequest, request_id))
    assert (row.status, row.decision_comment) == ("declined", "Add the date of the observation.")
    assert tx(lambda s: s.scalars(select(SignoffEvent)).all()) == []


def test_signing_from_the_grid_settles_pending_requests(world, tx):
    request_id = tx(lambda s: _create(world, s).id)

    def sign_and_settle(session):
        signoffs.sign(
            session,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            learner_ids=[world.learner.id, world.learners[1].id],
            statement_ids=world.statements[:2],
        )
        return signoff_requests.settle_met(
            session,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            learner_ids=[world.learner.id, world.learners[1].id],
            statement_ids=world.statements[:2],
        )

    settled = tx(sign_and_settle)
    assert [r.id for r in settled] == [request_id]
    row = tx(lambda s: s.get(SignoffRequest, request_id))
    assert row.status == "approved" and row.decided_by_id == world.instructor.id


def test_evidence_file_visible_to_its_learner_and_staff_only(world, tx):
    request_id = tx(
        lambda s: _create(world, s, file=signoff_requests.EvidenceFile("a.txt", b"evidence")).id
    )
    for viewer in (world.learner, world.instructor, world.ta):
        found = tx(
            lambda s, v=viewer: (
                signoff_requests.evidence_file(
                    s, request_id=request_id, context_id=world.context_a, viewer_id=v.id
                ).evidence_file
            )
        )
        assert found == b"evidence"
    for viewer in (world.learners[1], world.other_instructor):
        with pytest.raises(signoff_requests.RequestError) as exc:
            tx(
                lambda s, v=viewer: signoff_requests.evidence_file(
                    s, request_id=request_id, context_id=world.context_a, viewer_id=v.id
                )
            )
        assert exc.value.status == 404
