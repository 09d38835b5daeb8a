"""The public credential page verifies a credential once, and again only when something the
result depends on changed: its status bit (revocation), the clock passing validUntil, our keys.

Signature checks are counted at the one function every Data Integrity proof goes through
(the credential's own and its status list's).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from issuance_helpers import issue_backdated, level_of

from credentials import data_integrity
from credentials.timefmt import now_utc
from keys import KeyKind, KeyStore
from lti_app.db.models import Credential
from lti_app.services import awarding, credential_store, verification


@pytest.fixture
def signature_checks(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = data_integrity.verify

    def counting(document, *args, **kwargs):
        calls.append(str(document.get("id")))
        return real(document, *args, **kwargs)

    monkeypatch.setattr(data_integrity, "verify", counting)
    return calls


def _verdict(client, credential_id) -> str:
    page = client.get(f"/credentials/{credential_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    return text.split('class="verdict verdict-', 1)[1].split('"', 1)[0]


def test_second_view_checks_no_signature_revocation_shows_at_once_rotation_reverifies(
    app, client, db, issued, make_app, signature_checks
) -> None:
    assert _verdict(client, issued.id) == "valid"
    first = len(signature_checks)
    assert first == 2  # the credential's proof and its status list's
    assert _verdict(client, issued.id) == "valid"
    assert len(signature_checks) == first  # second view: no signature check at all

    # Another worker (its own app on the same database) has the page cached too ...
    other = make_app().test_client()
    assert _verdict(other, issued.id) == "valid"
    seen = len(signature_checks)
    # ... and a revocation made straight in the database (no request, no hook) shows in both.
    with db.transaction() as session:
        awarding.revoke(
            session, session.get(Credential, issued.id), reason="Signed in error", actor_id=None
        )
    assert _verdict(other, issued.id) == "revoked"
    assert _verdict(client, issued.id) == "revoked"
    assert len(signature_checks) == seen + 2  # re-verified once, then reused
    assert _verdict(client, issued.id) == "revoked"
    assert len(signature_checks) == seen + 2

    # A key rotation changes what verifies the status list: checked again.
    KeyStore(app.config["KEYS_DIR"]).rotate(KeyKind.ED25519)
    assert _verdict(client, issued.id) == "revoked"
    assert len(signature_checks) == seen + 4


def test_the_cached_result_expires_with_the_credential(db, course, signature_checks) -> None:
    learner = course.learners[1]
    credential = issue_backdated(db, learner.id, level_of(course).id, valid_days=5, age_days=1)
    later = now_utc() + timedelta(days=5)
    with db.transaction() as session:
        row, bit = credential_store.get_with_status(session, credential.id)
        assert bit is False
        cached = verification.verify_issued(session, row, bit)
        assert cached.status == "valid"
        assert cached.credential is None  # the cache keeps no copy of the document
        checks = len(signature_checks)
        assert verification.verify_issued(session, row, bit).status == "valid"
        assert len(signature_checks) == checks
        assert verification.verify_issued(session, row, bit, now=later).status == "expired"
        assert len(signature_checks) > checks


def test_five_views_cost_one_verification(client, issued, signature_checks) -> None:
    for _ in range(5):
        assert _verdict(client, issued.id) == "valid"
    assert len(signature_checks) == 2
