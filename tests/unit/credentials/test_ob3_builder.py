"""OpenBadgeCredential builder: shape, identity hashing, input validation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest

from credentials import data_integrity, jsonld, ob3
from credentials.errors import CredentialShapeError

OB3_SCHEMA = "ob_v3p0_achievementcredential_schema.json"


def test_shape_follows_ob_3_0(make_credential, issuer_did, list_url) -> None:
    credential = make_credential()
    assert credential["@context"] == [jsonld.VC_V2_CONTEXT, jsonld.OB_V3_CONTEXT]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["issuer"] == {
        "id": issuer_did,
        "type": ["Profile"],
        "name": "Example College",
        "url": "https://skills.example.edu",
    }
    assert credential["validFrom"] == "2025-01-01T00:00:00Z"
    subject = credential["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    achievement = subject["achievement"]
    for required in ("id", "type", "name", "description", "criteria"):
        assert achievement[required]
    assert achievement["type"] == ["Achievement"]
    assert [a["targetType"] for a in achievement["alignment"]] == ["CFItem"] * 3
    assert achievement["alignment"][0]["targetUrl"] == "https://case.example.org/uri/0001"
    (description,) = achievement["resultDescription"]
    (result,) = subject["result"]
    assert result == {
        "type": ["Result"],
        "resultDescription": description["id"],
        "status": "Completed",
    }
    assert description["resultType"] == "Status"
    assert credential["credentialStatus"]["statusListCredential"] == list_url
    assert credential["evidence"][0]["type"] == ["Evidence"]


def test_every_term_is_defined_by_the_contexts(make_credential) -> None:
    credential = make_credential(
        issuer=ob3.Issuer(
            id="did:web:skills.example.edu",
            name="College",
            url="https://skills.example.edu",
            email="badges@example.edu",
            image="https://skills.example.edu/logo.png",
            description="A college",
        ),
        subject=ob3.Subject(
            id="did:example:1", identifier_email="a@b.example", salt="s", name="Ada"
        ),
        valid_until="2030-01-01T00:00:00Z",
        evidence=(
            ob3.EvidenceItem(
                name="E",
                narrative="N",
                description="D",
                id="https://e.example/1",
                genre="Sign-off",
                audience="Employers",
            ),
        ),
        name="Custom name",
    )
    assert jsonld.canonicalize(credential)  # safe mode would name any undefined term
    assert credential["name"] == "Custom name"
    assert credential["validUntil"] == "2030-01-01T00:00:00Z"


def test_email_is_salted_and_hashed(make_credential) -> None:
    credential = make_credential(
        subject=ob3.Subject(identifier_email="  Learner@Example.EDU ", salt="NaCl")
    )
    subject = credential["credentialSubject"]
    assert "id" not in subject
    (identity,) = subject["identifier"]
    expected = "sha256$" + hashlib.sha256(b"learner@example.eduNaCl").hexdigest()
    assert identity == {
        "type": "IdentityObject",
        "identityHash": expected,
        "identityType": "emailAddress",
        "hashed": True,
        "salt": "NaCl",
    }
    assert "learner@example.edu" not in json.dumps(credential).lower()
    assert ob3.identity_matches(identity, "LEARNER@example.edu")
    assert not ob3.identity_matches(identity, "other@example.edu")


def test_a_random_salt_is_used_when_none_is_given(make_credential) -> None:
    first = make_credential(subject=ob3.Subject(identifier_email="a@b.example"))
    second = make_credential(subject=ob3.Subject(identifier_email="a@b.example"))
    salt_1 = first["credentialSubject"]["identifier"][0]["salt"]
    salt_2 = second["credentialSubject"]["identifier"][0]["salt"]
    assert len(salt_1) >= 16 and salt_1 != salt_2


def test_name_identifier_is_plain(make_credential) -> None:
    credential = make_credential(subject=ob3.Subject(id="did:example:1", name="Ada Lovelace"))
    (identity,) = credential["credentialSubject"]["identifier"]
    assert identity["identityType"] == "name" and identity["hashed"] is False
    assert ob3.identity_matches(identity, "Ada Lovelace")


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"credential_id": "not-an-iri"}, "id"),
        ({"subject": ob3.Subject()}, "credentialSubject"),
        ({"subject": ob3.Subject(identifier_email="nope")}, "credentialSubject.identifier"),
        ({"issuer": ob3.Issuer(id="did:web:x.example", name=" ")}, "issuer.name"),
        (
            {"issuer": ob3.Issuer(id="did:web:x.example", name="X", url="www.x.example")},
            "issuer.url",
        ),
        ({"valid_until": "2024-01-01T00:00:00Z"}, "validUntil"),
        ({"valid_from": "2025-01-01"}, "validFrom"),
    ],
)
def test_bad_inputs_name_the_field(make_credential, overrides: dict, path: str) -> None:
    with pytest.raises(CredentialShapeError) as caught:
        make_credential(**overrides)
    assert caught.value.path == path


def test_bad_alignment_names_its_position(make_credential, achievement_factory) -> None:
    bad = achievement_factory(
        alignments=[ob3.Alignment("A", "https://a.example"), ob3.Alignment("B", "b")]
    )
    with pytest.raises(CredentialShapeError) as caught:
        make_credential(achievement=bad)
    assert caught.value.path == "credentialSubject.achievement.alignment[1].targetUrl"


def test_result_description_id_for_fragment_ids() -> None:
    plain = ob3.AchievementInput(
        id="https://x.example/a", name="n", description="d", criteria_narrative="c"
    )
    assert plain.result_description_id() == "https://x.example/a#completion"
    fragment = ob3.AchievementInput(
        id="https://x.example/a#l1", name="n", description="d", criteria_narrative="c"
    )
    assert fragment.result_description_id().startswith("urn:uuid:")


def test_matches_the_official_json_schema(
    make_credential, signing_key, verification_method, test_data: Path
) -> None:
    # A missing copy fails here (FileNotFoundError): the schema is part of the repository.
    schema = json.loads((test_data / OB3_SCHEMA).read_text())
    validator = jsonschema.Draft201909Validator(
        schema, format_checker=jsonschema.Draft201909Validator.FORMAT_CHECKER
    )
    for credential in (
        make_credential(),
        make_credential(subject=ob3.Subject(identifier_email="a@b.example", name="Ada")),
    ):
        # OB 3.0's schema wants proof as an array: proof_set=True.
        signed = data_integrity.sign(credential, signing_key, verification_method, proof_set=True)
        errors = sorted(validator.iter_errors(signed), key=str)
        assert not errors, errors[0].message
