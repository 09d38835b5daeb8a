"""Revocation, expiry, re-issue, key rotation and wallet DIDs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from issuance_helpers import issue_backdated, level_of
from sqlalchemy import select

from credentials.timefmt import now_utc
from keys import KeyKind, KeyStore
from lti_app.db.models import AuditEvent, Credential, FrameworkLevel, StatusList
from lti_app.services import awarding, credential_store, signoffs, status_lists, verification
from lti_app.services import issuer as issuer_service
from lti_app.services.errors import AppError, Conflict


def _verify(db, data, **kwargs):
    with db.transaction() as session:
        return verification.verify(session, data, **kwargs)


def _revoke(db, credential: Credential, reason: str = "Signed off in error", actor=None):
    with db.transaction() as session:
        row = session.get(Credential, credential.id)
        return awarding.revoke(session, row, reason=reason, actor_id=actor.id if actor else None)


def test_revocation_sets_the_bit_and_verifiers_see_it(db, course, issued) -> None:
    assert _verify(db, issued.document).status == "valid"
    revoked = _revoke(db, issued, actor=course.instructor)
    assert revoked.revoked_at is not None and revoked.live_key is None
    assert revoked.revoked_by_id == course.instructor.id
    with db.transaction() as session:
        row = session.get(StatusList, issued.status_list_id)
        assert status_lists.is_set(row, issued.status_index)
        others = [i for i in range(8) if i != issued.status_index]
        assert not any(status_lists.is_set(row, i) for i in others)
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "credential.revoke")
        ).one()
    assert audit.details["reason"] == "Signed off in error"
    result = _verify(db, issued.document)
    assert result.status == "revoked"
    assert "bit" in result.check("status").reason


def test_revoke_needs_a_reason_and_happens_once(db, issued) -> None:
    with pytest.raises(AppError, match="reason"):
        _revoke(db, issued, reason="   ")
    _revoke(db, issued)
    with pytest.raises(Conflict, match="already revoked"):
        _revoke(db, issued, reason="again")
    with db.transaction() as session:
        assert session.get(Credential, issued.id).revocation_reason == "Signed off in error"


def test_undo_revokes_and_signing_again_reissues(db, course, sign_level, issued) -> None:
    learner = course.learners[0]
    statement = level_of(course).statements[4]
    with db.transaction() as session, pytest.raises(AppError, match="reason"):
        signoffs.undo(
            session,
            actor_id=course.instructor.id,
            context_id=course.context.id,
            learner_id=learner.id,
            statement_id=statement.id,
        )
    with db.transaction() as session:
        undone = signoffs.undo(
            session,
            actor_id=course.instructor.id,
            context_id=course.context.id,
            learner_id=learner.id,
            statement_id=statement.id,
            reason="Not observed after all",
        )
    assert [c.id for c in undone.revoked] == [issued.id]
    assert _verify(db, issued.document).status == "revoked"
    (again,) = sign_level(learner, positions=[statement.position]).credentials
    assert again.id != issued.id
    assert (again.status_list_id, again.status_index) != (
        issued.status_list_id,
        issued.status_index,
    )
    assert _verify(db, again.document).status == "valid"
    with db.transaction() as session:
        live = awarding.live_credentials(
            session, learner_id=learner.id, level_ids=[level_of(course).id]
        )
    assert [c.id for c in live] == [again.id]


def test_expiry(db, course, sign_level) -> None:
    with db.transaction() as session:
        session.get(FrameworkLevel, level_of(course).id).credential_valid_days = 10
    (credential,) = sign_level(course.learners[0]).credentials
    assert _verify(db, credential.document).status == "valid"
    later = now_utc() + timedelta(days=11)
    result = _verify(db, credential.document, now=later)
    assert result.status == "expired"
    assert awarding.credential_state(credential, later) == "expired"
    assert awarding.credential_state(credential) == "valid"


def test_an_old_issue_date_gives_an_expired_credential(db, course, sign_level) -> None:
    learner = course.learners[1]
    sign_level(learner, positions=list(range(1, 10)))
    credential = issue_backdated(db, learner.id, level_of(course).id, valid_days=30, age_days=60)
    assert credential is not None
    result = _verify(db, credential.document)
    assert result.status == "expired"
    assert result.check("proof").ok is True


def test_rotation_keeps_did_key_credentials_valid(app, db, course, sign_level) -> None:
    (before,) = sign_level(course.learners[0]).credentials
    KeyStore(app.config["KEYS_DIR"]).rotate(KeyKind.ED25519)
    (after,) = sign_level(course.learners[1]).credentials
    assert before.signing_kid != after.signing_kid
    assert before.document["issuer"]["id"] != after.document["issuer"]["id"]
    assert _verify(db, before.document).status == "valid"
    assert _verify(db, after.document).status == "valid"
    # Revocation still works for the credential signed with the rotated key.
    _revoke(db, before)
    assert _verify(db, before.document).status == "revoked"
    assert _verify(db, after.document).status == "valid"


def test_rotation_keeps_did_web_credentials_valid(make_app, course, sign_level) -> None:
    web = make_app(ISSUER_DID="web")
    web_db = web.extensions["skillsign.db"]
    (before,) = sign_level(course.learners[0], database=web_db).credentials
    assert before.document["issuer"]["id"] == "did:web:localhost"
    store = KeyStore(web.config["KEYS_DIR"])
    store.rotate(KeyKind.ED25519)
    (after,) = sign_level(course.learners[1], database=web_db).credentials
    assert before.document["issuer"]["id"] == after.document["issuer"]["id"]
    with web_db.transaction() as session:
        document = issuer_service.context(session).did_document()
    listed = {method["id"].split("#")[1] for method in document["verificationMethod"]}
    assert {before.signing_kid, after.signing_kid} <= listed
    for credential in (before, after):
        assert _verify(web_db, credential.document).status == "valid"
    # Retiring the old key withdraws it from the DID document: its credentials stop verifying.
    store.retire(before.signing_kid)
    result = _verify(web_db, before.document)
    assert result.status == "invalid"
    assert result.check("issuer_key").ok is False
    assert _verify(web_db, after.document).status == "valid"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("example:abc", "must start with 'did:'"),
        ("did:Example:abc", "not a DID"),
        ("did:example:", "not a DID"),
        ("did:example:abc#key-1", "without a path"),
        ("did:example:a b", "not a DID"),
        ("did:example:" + "x" * 1100, "at most 1024"),
    ],
)
def test_wallet_did_is_checked(db, course, value, problem) -> None:
    with db.transaction() as session, pytest.raises(AppError, match=problem):
        awarding.set_wallet_did(session, course.learners[0].id, value)


def test_wallet_did_set_and_cleared(db, course) -> None:
    learner = course.learners[0]
    with db.transaction() as session:
        user = awarding.set_wallet_did(
            session, learner.id, " did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH "
        )
        assert user.wallet_did == "did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH"
    with db.transaction() as session:
        assert awarding.set_wallet_did(session, learner.id, "").wallet_did is None
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_user_id == learner.id)
        ).all()
    assert actions.count("user.wallet_did") == 2


def test_exports_round_trip_through_the_verifier(db, course, sign_level) -> None:
    learner = course.learners[2]
    with db.transaction() as session:
        awarding.set_wallet_did(session, learner.id, "did:example:learner-3")
    (credential,) = sign_level(learner).credentials
    with db.transaction() as session:
        row = session.get(Credential, credential.id)
        formats = {
            fmt: credential_store.export(session, row, fmt).body
            for fmt in credential_store.EXPORT_FORMATS
        }
    for fmt, body in formats.items():
        result = _verify(db, body)
        assert result.status == "valid", (fmt, [c.to_dict() for c in result.checks])
        assert result.format.split("+")[0] == fmt
