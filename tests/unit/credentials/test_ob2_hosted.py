"""Open Badges 2.0 hosted Issuer / BadgeClass / Assertion from the OB 3.0 inputs."""

from __future__ import annotations

import hashlib

import pytest

from credentials import ob2, ob3
from credentials.errors import CredentialShapeError

BASE = "https://skills.example.edu/ob2"


@pytest.fixture
def issuer() -> ob3.Issuer:
    return ob3.Issuer(
        id="did:web:skills.example.edu",
        name="Example College",
        url="https://skills.example.edu",
        email="badges@example.edu",
        image="https://skills.example.edu/logo.png",
    )


def test_issuer_profile(issuer) -> None:
    profile = ob2.issuer_profile(issuer, issuer_url=f"{BASE}/issuer")
    assert profile == {
        "@context": "https://w3id.org/openbadges/v2",
        "type": "Issuer",
        "id": f"{BASE}/issuer",
        "name": "Example College",
        "url": "https://skills.example.edu",
        "email": "badges@example.edu",
        "image": "https://skills.example.edu/logo.png",
    }
    with pytest.raises(CredentialShapeError, match="email"):
        ob2.issuer_profile(
            ob3.Issuer(id=issuer.id, name="X", url=issuer.url), issuer_url=f"{BASE}/i"
        )


def test_badge_class(achievement_factory) -> None:
    achievement = achievement_factory(image="https://skills.example.edu/badge.png")
    badge = ob2.badge_class(
        achievement, badge_class_url=f"{BASE}/badges/entry", issuer_url=f"{BASE}/issuer"
    )
    assert badge["type"] == "BadgeClass"
    assert badge["criteria"] == {"narrative": achievement.criteria_narrative}
    assert badge["issuer"] == f"{BASE}/issuer"
    assert badge["alignment"][0] == {
        "targetName": "Competency 1",
        "targetUrl": "https://case.example.org/uri/0001",
        "targetDescription": "Competency 1 - performs task 1 safely",
        "targetFramework": "Psychiatric Technicians 1.0",
        "targetCode": "PT.1.1",
    }
    assert badge["tags"] == ["healthcare", "entry"]
    with pytest.raises(CredentialShapeError, match="image"):
        ob2.badge_class(achievement_factory(), badge_class_url=f"{BASE}/b", issuer_url=f"{BASE}/i")


def test_assertion_with_hashed_email() -> None:
    document = ob2.assertion(
        assertion_url=f"{BASE}/assertions/1",
        badge_class_url=f"{BASE}/badges/entry",
        subject=ob3.Subject(identifier_email="Learner@Example.edu", salt="NaCl"),
        issued_on="2025-01-01T00:00:00Z",
        expires="2030-01-01T00:00:00Z",
        evidence=[ob3.EvidenceItem(name="Sign-offs", narrative="3 of 3")],
    )
    assert document["recipient"] == {
        "type": "email",
        "hashed": True,
        "salt": "NaCl",
        "identity": "sha256$" + hashlib.sha256(b"learner@example.eduNaCl").hexdigest(),
    }
    assert document["verification"] == {"type": "hosted"}
    assert document["badge"] == f"{BASE}/badges/entry"
    assert document["expires"] == "2030-01-01T00:00:00Z"
    assert document["evidence"] == [
        {"type": "Evidence", "name": "Sign-offs", "narrative": "3 of 3"}
    ]


def test_revoked_assertion_is_stripped() -> None:
    document = ob2.assertion(
        assertion_url=f"{BASE}/assertions/1",
        badge_class_url=f"{BASE}/badges/entry",
        subject=ob3.Subject(identifier_email="a@b.example"),
        issued_on="2025-01-01T00:00:00Z",
        revoked=True,
        revocation_reason="issued in error",
    )
    assert document == {
        "@context": "https://w3id.org/openbadges/v2",
        "type": "Assertion",
        "id": f"{BASE}/assertions/1",
        "revoked": True,
        "revocationReason": "issued in error",
    }


def test_assertion_for_a_did_and_bad_urls() -> None:
    document = ob2.assertion(
        assertion_url=f"{BASE}/a/2",
        badge_class_url=f"{BASE}/b",
        subject=ob3.Subject(id="did:example:1"),
        issued_on="2025-01-01T00:00:00Z",
    )
    assert document["recipient"] == {"type": "url", "hashed": False, "identity": "did:example:1"}
    with pytest.raises(CredentialShapeError, match="http"):
        ob2.assertion(
            assertion_url="urn:uuid:1",
            badge_class_url=f"{BASE}/b",
            subject=ob3.Subject(id="did:example:1"),
            issued_on="2025-01-01T00:00:00Z",
        )
