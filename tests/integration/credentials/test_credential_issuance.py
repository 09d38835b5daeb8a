"""Issuance on completion: exactly once, in the sign-off's transaction, shaped per docs/architecture.md §5."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from issuance_helpers import level_of
from sqlalchemy import func, select

from credentials import jwt as vc_jwt
from credentials.did import resolve_public_key
from credentials.ob3 import identity_matches
from credentials.timefmt import parse_datetime
from frameworks import case_uri
from lti_app.db.models import (
    AuditEvent,
    Credential,
    FrameworkLevel,
    Membership,
    OutboxMessage,
    SignoffEvent,
    User,
)
from lti_app.services import awarding, signoffs, verification
from lti_app.services import issuer as issuer_service


def _count(db, model, *where) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_partial_level_issues_nothing(db, course, sign_level) -> None:
    result = sign_level(course.learners[0], positions=list(range(1, 10)))
    assert len(result.events) == 9
    assert result.credentials == []
    assert _count(db, Credential) == 0


def test_last_statement_issues_one_verifiable_credential(db, course, sign_level) -> None:
    learner = course.learners[0]
    sign_level(learner, positions=list(range(1, 10)))
    (credential,) = sign_level(learner, positions=[10]).credentials
    assert credential.learner_id == learner.id
    assert credential.live_key == f"{learner.id}:{level_of(course).id}"
    with db.transaction() as session:
        result = verification.verify(session, credential.document)
    assert result.status == "valid", [c.to_dict() for c in result.checks]
    assert result.check("status").ok is True
    # Signing more (another level's first statement, an already-met one) adds nothing here.
    sign_level(learner, key="developing", positions=[1])
    assert sign_level(learner, positions=[3]).already_met
    assert _count(db, Credential) == 1


def test_credential_maps_the_level(db, course, sign_level) -> None:
    learner = course.learners[0]
    result = sign_level(learner, note="private remark about the learner")
    document = result.credentials[0].document
    level = level_of(course)
    with db.transaction() as session:
        issuer = issuer_service.context(session)
    achievement = document["credentialSubject"]["achievement"]
    assert achievement["id"] == issuer.achievement_url(level.id)
    assert level.label in achievement["name"] and course.version.title in achievement["name"]
    alignments = achievement["alignment"]
    assert [a["targetUrl"] for a in alignments] == [
        case_uri("http://localhost", "CFItems", st.id) for st in level.statements
    ]
    assert {a["targetType"] for a in alignments} == {"CFItem"}
    for st in level.statements:
        assert st.text in achievement["criteria"]["narrative"]
    assert document["credentialSubject"]["result"][0]["status"] == "Completed"
    # One Evidence per statement: observed, signed off, when and in which role; no names.
    evidence = document["evidence"]
    assert [e["name"].split(":")[0] for e in evidence] == [
        f"Statement {level.key}.{st.position}" for st in level.statements
    ]
    assert all(
        e["description"].startswith("Observed and signed off by an instructor on ")
        for e in evidence
    )
    assert course.instructor.name not in str(document)
    assert "private remark" not in str(document)
    assert "validUntil" not in document
    # No wallet DID: a salted hash of the email, which the learner's address matches.
    subject = document["credentialSubject"]
    assert "id" not in subject
    (identity,) = subject["identifier"]
    assert identity["hashed"] is True
    assert identity_matches(identity, learner.email.upper())
    assert learner.email not in str(document) and learner.name not in str(document)
    assert result.credentials[0].jwt is None


def test_outbox_and_audit_rows_come_with_the_credential(db, course, sign_level) -> None:
    (credential,) = sign_level(course.learners[0]).credentials
    with db.transaction() as session:
        messages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notification")
        ).all()
        audits = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "credential.issue")
        ).all()
    assert [m.payload["event"] for m in messages] == ["credential.issued"]
    assert messages[0].payload["credential_id"] == str(credential.id)
    assert [a.object_id for a in audits] == [str(credential.id)]
    assert audits[0].actor_id == course.instructor.id


def test_name_wallet_and_validity_follow_the_learner_and_level(db, course, sign_level) -> None:
    learner = course.learners[1]
    with db.transaction() as session:
        user = session.get(User, learner.id)
        user.show_name_on_credentials = True
        awarding.set_wallet_did(session, learner.id, "did:example:wallet-42")
        session.get(FrameworkLevel, level_of(course).id).credential_valid_days = 30
    (credential,) = sign_level(learner).credentials
    document = credential.document
    subject = document["credentialSubject"]
    assert subject["id"] == "did:example:wallet-42"
    (name,) = subject["identifier"]
    assert (name["identityType"], name["identityHash"]) == ("name", learner.name)
    valid_from = parse_datetime(document["validFrom"])
    assert parse_datetime(document["validUntil"]) - valid_from == timedelta(days=30)
    assert credential.valid_until == parse_datetime(document["validUntil"])
    # The VC-JWT: same credential, signed with the issuer's key, `sub` = the wallet DID.
    assert credential.jwt is not None
    payload, proof = vc_jwt.verify_vc_jwt(credential.jwt, resolve_public_key)
    assert proof.verified, proof.reason
    assert payload["credentialSubject"]["id"] == "did:example:wallet-42"
    with db.transaction() as session:
        result = verification.verify(session, credential.jwt)
    assert (result.status, result.format) == ("valid", "jwt")


def test_a_duplicate_insert_counts_as_already_issued(db, course, sign_level) -> None:
    """The SAVEPOINT path: a second issue for a standing credential returns None, and the
    transaction it ran in is still good (it commits the other work done in it)."""
    learner = course.learners[0]
    (first,) = sign_level(learner).credentials
    with db.transaction() as session:
        user = session.get(User, learner.id)
        level = session.get(FrameworkLevel, level_of(course).id)
        again = awarding.issue(session, learner=user, level=level, context_id=None, actor_id=None)
        assert again is None
        user.name = "Renamed after the duplicate"
    with db.transaction() as session:
        assert session.get(User, learner.id).name == "Renamed after the duplicate"
        ids = session.scalars(select(Credential.id)).all()
        (list_row,) = session.scalars(select(Credential.status_index)).all()
    assert ids == [first.id]
    assert list_row == first.status_index


def test_status_indexes_are_distinct_and_a_full_list_rolls_over(db, course, sign_level) -> None:
    from lti_app.db.models import StatusList

    sign_level(course.learners[0])
    with db.transaction() as session:
        (row,) = session.scalars(select(StatusList)).all()
        row.next_index = row.size  # pretend the list is full
    sign_level(course.learners[1])
    sign_level(course.learners[2])
    with db.transaction() as session:
        places = session.execute(
            select(Credential.status_list_id, Credential.status_index).order_by(
                Credential.issued_at
            )
        ).all()
        lists = session.scalars(select(StatusList.id).order_by(StatusList.id)).all()
    assert len(lists) == 2
    assert places[0][0] == lists[0]
    assert sorted(places[1:]) == [(lists[1], 0), (lists[1], 1)]


# --------------------------------------------------------------------------- concurrency


def _threads(count: int, target) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            barrier.wait(10)
            target(n)
        except BaseException as error:  # collected and asserted on
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


@pytest.mark.postgres_only
def test_twenty_concurrent_signoffs_issue_exactly_once(db, course, sign_level, postgres) -> None:
    learner = course.learners[0]
    sign_level(learner, positions=list(range(1, 10)))
    last = level_of(course).statements[-1].id
    issued: list[int] = []

    def sign(n: int) -> None:
        with db.transaction() as session:
            result = signoffs.sign(
                session,
                actor_id=course.instructor.id,
                context_id=course.context.id,
                learner_ids=[learner.id],
                statement_ids=[last],
                note=f"thread {n}",
            )
            issued.append(len(result.credentials))

    assert _threads(20, sign) == []
    assert sorted(issued) == [0] * 19 + [1]
    assert _count(db, Credential) == 1
    assert _count(db, SignoffEvent, SignoffEvent.statement_id == last) == 1
    assert _count(db, OutboxMessage, OutboxMessage.kind == "notification") == 1


@pytest.mark.postgres_only
def test_concurrent_learners_get_distinct_status_bits(db, course, postgres) -> None:
    from support.lti_rows import LEARNER, add_user

    with db.transaction() as session:
        people = [
            add_user(
                session,
                course.platform.issuer,
                f"crowd-{n}",
                f"Crowd {n}",
                course.context,
                [LEARNER],
            )
            for n in range(20)
        ]
    statements = [st.id for st in level_of(course).statements]

    def complete(n: int) -> None:
        with db.transaction() as session:
            signoffs.sign(
                session,
                actor_id=course.instructor.id,
                context_id=course.context.id,
                learner_ids=[people[n].id],
                statement_ids=statements,
            )

    assert _threads(20, complete) == []
    with db.transaction() as session:
        places = session.execute(select(Credential.status_list_id, Credential.status_index)).all()
    assert len(places) == 20
    assert len(set(places)) == 20


def test_evidence_names_the_role_of_a_teaching_assistant_never_the_name(db, course) -> None:
    """A teaching assistant signs two statements, the instructor the rest: each Evidence says
    who in role, not in name (instructors have no way to agree to be named)."""
    from issuance_helpers import LMS
    from support.lti_rows import add_user

    from lti_app.lms.roles import INSTRUCTOR_SUBROLE

    level = level_of(course)
    learner = course.learners[2]
    with db.transaction() as session:
        ta = add_user(
            session,
            LMS,
            "ta-1",
            "Tess Assistant",
            course.context,
            [INSTRUCTOR_SUBROLE + "TeachingAssistant"],
        )
        session.flush()
        membership = session.scalars(select(Membership).where(Membership.user_id == ta.id)).one()
        membership.is_instructor = True  # a sub-role of Instructor, as the launch classifies it
        ta_id = ta.id
    first, second = level.statements[:2], level.statements[2:]
    with db.transaction() as session:
        signoffs.sign(
            session,
            actor_id=ta_id,
            context_id=course.context.id,
            learner_ids=[learner.id],
            statement_ids=[st.id for st in first],
            note=None,
        )
    with db.transaction() as session:
        result = signoffs.sign(
            session,
            actor_id=course.instructor.id,
            context_id=course.context.id,
            learner_ids=[learner.id],
            statement_ids=[st.id for st in second],
            note=None,
        )
    (credential,) = result.credentials
    roles = [e["description"].split(" on ")[0] for e in credential.document["evidence"]]
    assert roles == ["Observed and signed off by a teaching assistant"] * 2 + [
        "Observed and signed off by an instructor"
    ] * len(second)
    text = str(credential.document)
    assert "Tess Assistant" not in text and course.instructor.name not in text
