"""eddsa-rdfc-2022 sign/verify round trips, and what a verifier must refuse."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone

import pytest

from credentials import data_integrity, did, multikey, ob3
from credentials.errors import CredentialShapeError, KeyResolutionError


@pytest.fixture
def resolve(did_document: dict):
    return lambda vm: did.resolve_verification_method(vm, {did_document["id"]: did_document})


def test_round_trip_with_a_did_web_key(make_credential, sign, resolve, verification_method) -> None:
    signed = sign(make_credential())
    proof = signed["proof"]
    assert proof["verificationMethod"] == verification_method
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["proofValue"].startswith("z")
    assert len(multikey.multibase_decode(proof["proofValue"])) == 64
    result = data_integrity.verify(signed, resolve)
    assert result.verified, result.reason
    assert result.verification_method == verification_method


def test_proof_set_form_holds_the_same_proof(
    make_credential, signing_key, verification_method, resolve
) -> None:
    created = "2025-02-03T04:05:06Z"
    single = data_integrity.sign(
        make_credential(), signing_key, verification_method, created=created
    )
    as_set = data_integrity.sign(
        make_credential(), signing_key, verification_method, created=created, proof_set=True
    )
    assert as_set["proof"] == [single["proof"]]
    assert data_integrity.verify(as_set, resolve).verified


def test_round_trip_with_did_key(make_credential, signing_key) -> None:
    vm = did.did_key_verification_method(signing_key.public_key())
    credential = make_credential(issuer=ob3.Issuer(id=vm.split("#")[0], name="Demo issuer"))
    signed = data_integrity.sign(credential, signing_key, vm)
    assert data_integrity.verify(signed, did.resolve_verification_method).verified


def test_rotated_key_still_verifies_old_credentials(
    make_credential, other_key, resolve, issuer_did
) -> None:
    old = data_integrity.sign(make_credential(), other_key, f"{issuer_did}#key-1")
    assert data_integrity.verify(old, resolve).verified


def test_created_is_recorded_in_utc_seconds(
    make_credential, signing_key, verification_method
) -> None:
    plus_two = timezone(timedelta(hours=2))
    signed = data_integrity.sign(
        make_credential(),
        signing_key,
        verification_method,
        created=datetime(2025, 3, 4, 12, 30, 15, 999, tzinfo=plus_two),
    )
    assert signed["proof"]["created"] == "2025-03-04T10:30:15Z"
    with pytest.raises(CredentialShapeError, match="timezone"):
        data_integrity.sign(
            make_credential(), signing_key, verification_method, created=datetime(2025, 1, 1)
        )
    with pytest.raises(CredentialShapeError, match="dateTimeStamp"):
        data_integrity.sign(
            make_credential(), signing_key, verification_method, created="yesterday"
        )


def test_signing_refuses_documents_that_would_sign_badly(
    make_credential, signing_key, verification_method, sign
) -> None:
    with pytest.raises(CredentialShapeError, match="already has a proof"):
        data_integrity.sign(sign(make_credential()), signing_key, verification_method)
    typo = make_credential()
    typo["credentialSubject"]["achievment"] = {"name": "x"}
    with pytest.raises(CredentialShapeError, match="achievment"):
        data_integrity.sign(typo, signing_key, verification_method)
    with pytest.raises(CredentialShapeError, match="verificationMethod"):
        data_integrity.sign(make_credential(), signing_key, "key-1")
    with pytest.raises(TypeError):
        data_integrity.sign(make_credential(), signing_key.public_key(), verification_method)  # type: ignore[arg-type]


def test_wrong_key_fails_as_signature(make_credential, sign, other_key) -> None:
    result = data_integrity.verify(sign(make_credential()), lambda vm: other_key.public_key())
    assert not result.verified and result.failure == "signature"


def test_unresolvable_key_fails_as_key(make_credential, sign) -> None:
    result = data_integrity.verify(
        sign(make_credential()), lambda vm: did.resolve_verification_method(vm, {})
    )
    assert not result.verified and result.failure == "key"
    assert "no DID document" in result.reason


def test_key_not_listed_for_assertion_is_refused(make_credential, signing_key, issuer_did) -> None:
    document = did.did_web_document(issuer_did, [("key-2", signing_key.public_key())])
    document["assertionMethod"] = []
    signed = data_integrity.sign(make_credential(), signing_key, f"{issuer_did}#key-2")
    with pytest.raises(KeyResolutionError, match="assertionMethod"):
        did.resolve_verification_method(f"{issuer_did}#key-2", {issuer_did: document})
    result = data_integrity.verify(
        signed, lambda vm: did.resolve_verification_method(vm, {issuer_did: document})
    )
    assert result.failure == "key"


@pytest.mark.parametrize(
    ("field", "value", "failure"),
    [
        ("type", "Ed25519Signature2020", "shape"),  # known suite, but it has no cryptosuite
        ("type", "RsaSignature2018", "unsupported"),
        ("cryptosuite", "ecdsa-rdfc-2019", "unsupported"),
        ("proofPurpose", "authentication", "shape"),
        ("proofValue", "not-multibase", "shape"),
        ("proofValue", "z" + "1" * 10, "shape"),
        ("created", "2025-13-45", "shape"),
        ("verificationMethod", 7, "shape"),
    ],
)
def test_malformed_proofs_are_refused(
    make_credential, sign, resolve, field, value, failure
) -> None:
    signed = sign(make_credential())
    signed["proof"][field] = value
    result = data_integrity.verify(signed, resolve)
    assert not result.verified
    assert result.failure == failure


def test_proof_context_must_prefix_the_document_context(make_credential, sign, resolve) -> None:
    signed = sign(make_credential())
    signed["proof"]["@context"] = signed["@context"][:1]
    assert data_integrity.verify(signed, resolve).verified  # allowed by VC-DI-EDDSA
    signed["proof"]["@context"] = ["https://w3id.org/security/data-integrity/v2"]
    assert data_integrity.verify(signed, resolve).failure == "shape"


def test_document_problems_are_reported_as_document(make_credential, sign, resolve) -> None:
    signed = sign(make_credential())
    signed["credentialSubject"]["nickname"] = "x"
    result = data_integrity.verify(signed, resolve)
    assert result.failure == "document"
    assert "nickname" in result.reason


def test_missing_or_empty_proofs(make_credential, resolve, sign) -> None:
    assert data_integrity.verify(make_credential(), resolve).failure == "shape"
    signed = sign(make_credential())
    signed["proof"] = []
    assert data_integrity.verify(signed, resolve).failure == "shape"
    signed["proof"] = "z123"
    assert data_integrity.verify(signed, resolve).failure == "shape"


def test_every_proof_in_a_set_must_verify(
    make_credential, sign, resolve, other_key, issuer_did
) -> None:
    first = sign(make_credential())
    second = data_integrity.sign(make_credential(), other_key, f"{issuer_did}#key-1")
    both = {**first, "proof": [first["proof"], second["proof"]]}
    assert data_integrity.verify(both, resolve).verified
    broken = copy.deepcopy(both)
    broken["proof"][1]["created"] = "2020-01-01T00:00:00Z"
    assert not data_integrity.verify(broken, resolve).verified


TEXTS = {
    **{f"U+{c:04X}": f"before{chr(c)}after" for c in [*range(0x20), 0x7F]},
    "emoji": "Caring 🧠💊 — with 👩🏽‍⚕️ family ZWJ",
    "rtl": "טכנאי פסיכיאטרי מוסמך — فني نفسي",
    "cjk": "精神科技术员 精神科技術者 정신과 기술자",
    "mixed": 'quotes " and \\ backslash\r\n and \u2028 separator',
}


@pytest.mark.parametrize("label", list(TEXTS))
def test_any_text_signs_and_verifies(make_credential, sign, resolve, label: str) -> None:
    text = TEXTS[label]
    credential = make_credential(
        achievement=ob3.AchievementInput(
            id="https://skills.example.edu/levels/text",
            name=text,
            description=f"description: {text}",
            criteria_narrative=text,
        )
    )
    signed = sign(credential)
    assert signed["credentialSubject"]["achievement"]["name"] == text
    assert data_integrity.verify(signed, resolve).verified
    altered = copy.deepcopy(signed)
    altered["credentialSubject"]["achievement"]["name"] = text + " "
    assert data_integrity.verify(altered, resolve).failure == "signature"


def test_proof_is_independent_of_json_key_order(make_credential, sign, resolve) -> None:
    signed = sign(make_credential())
    reordered = dict(reversed(list(signed.items())))
    reordered["credentialSubject"] = dict(reversed(list(signed["credentialSubject"].items())))
    assert data_integrity.verify(reordered, resolve).verified


def test_now_is_used_when_created_is_omitted(make_credential, sign) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    created = datetime.fromisoformat(sign(make_credential())["proof"]["created"])
    assert before <= created <= datetime.now(UTC)
