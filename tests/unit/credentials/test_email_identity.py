"""ob3.email_identity_answer: a hashed or plain emailAddress IdentityObject, or none."""

from __future__ import annotations

from credentials.ob3 import Subject, email_identity_answer


def _credential(subject: object) -> dict:
    return {"credentialSubject": subject}


def test_hashed_identity_matches_only_its_address() -> None:
    subject = Subject(identifier_email="Ada@Example.edu").to_json()
    assert subject["identifier"][0]["hashed"] is True
    assert email_identity_answer(_credential(subject), " ada@example.EDU ") == "matches"
    assert email_identity_answer(_credential(subject), "ada@example.org") == "does_not_match"


def test_a_did_only_subject_or_nonsense_has_no_email_identity() -> None:
    did_only = Subject(id="did:example:123").to_json()
    assert email_identity_answer(_credential(did_only), "a@b.c") == "no_email_identity"
    for odd in (None, "text", [1, 2], {"identifier": "x"}, {"identifier": [7]}):
        assert email_identity_answer(_credential(odd), "a@b.c") == "no_email_identity"
    assert email_identity_answer(None, "a@b.c") == "no_email_identity"


def test_an_array_of_subjects_and_an_unhashed_identity() -> None:
    plain = {
        "identifier": [
            {
                "type": "IdentityObject",
                "identityType": "emailAddress",
                "hashed": False,
                "identityHash": "b@example.edu",
            }
        ]
    }
    assert email_identity_answer(_credential([{"id": "x"}, plain]), "B@example.edu") == "matches"
    assert email_identity_answer(_credential([plain]), "c@example.edu") == "does_not_match"
