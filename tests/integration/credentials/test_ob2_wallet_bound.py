"""OB 2.0 hosted assertions exist only for credentials with an email identity: a learner known
by a wallet's DID gets none (an OB 2.0 recipient is an email, URL or telephone number), with
a note on the credential page, never an assertion the OB 2.0 validator would refuse."""

from __future__ import annotations

import hashlib
import html

from lti_app.services import awarding


def test_an_email_learner_gets_an_assertion_with_a_hashed_email(client, course, issued) -> None:
    response = client.get(f"/ob2/assertions/{issued.id}")
    assert response.status_code == 200
    recipient = response.json["recipient"]
    assert recipient["type"] == "email" and recipient["hashed"] is True
    email = course.learners[0].email.strip().lower()
    expected = hashlib.sha256((email + recipient["salt"]).encode()).hexdigest()
    assert recipient["identity"] == f"sha256${expected}"
    page = client.get(f"/credentials/{issued.id}").get_data(as_text=True)
    assert f'href="http://localhost/ob2/assertions/{issued.id}"' in page
    assert "no-ob2" not in page


def test_a_wallet_bound_learner_gets_no_assertion_and_a_note(
    client, db, course, sign_level
) -> None:
    learner = course.learners[1]
    with db.transaction() as session:
        awarding.set_wallet_did(session, learner.id, "did:example:wallet-9")
    (credential,) = sign_level(learner).credentials
    assert credential.document["credentialSubject"]["id"] == "did:example:wallet-9"
    response = client.get(
        f"/ob2/assertions/{credential.id}", headers={"Accept": "application/json"}
    )
    assert response.status_code == 404
    detail = response.get_data(as_text=True)
    assert "no Open Badges 2.0 assertion" in detail and "did:example:wallet-9" not in detail
    page = html.unescape(client.get(f"/credentials/{credential.id}").get_data(as_text=True))
    assert f"/ob2/assertions/{credential.id}" not in page
    assert "No Open Badges 2.0 assertion: this credential names its holder without" in page
    spanish = html.unescape(
        client.get(f"/credentials/{credential.id}?lang=es").get_data(as_text=True)
    )
    assert "Ninguna aserción de Open Badges 2.0" in spanish
