"""1EdTech's Open Badges 3.0 eddsa-rdfc-2022 test vector, reproduced byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from credentials import data_integrity, multikey


@pytest.fixture(scope="module")
def vector(test_data: Path) -> dict:
    return json.loads((test_data / "ob3-eddsa-rdfc-2022-vector.json").read_text())


@pytest.fixture(scope="module")
def vector_key(vector: dict) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vector["ed25519_seed_hex"]))


def test_multikey_from_seed(vector: dict, vector_key: Ed25519PrivateKey) -> None:
    encoded = multikey.public_key_to_multikey(vector_key.public_key())
    assert encoded == vector["expected_public_multikey"]
    decoded = multikey.multikey_to_public_key(encoded)
    assert multikey.raw_public_key(decoded) == multikey.raw_public_key(vector_key.public_key())


def test_canonical_hashes(vector: dict) -> None:
    proof_config = {
        "type": "DataIntegrityProof",
        "cryptosuite": vector["cryptosuite"],
        "created": vector["proof_created"],
        "verificationMethod": vector["verification_method"],
        "proofPurpose": vector["proof_purpose"],
    }
    config_hash, document_hash = data_integrity.proof_hashes(
        vector["unsigned_credential"], proof_config
    )
    assert document_hash.hex() == vector["expected_sha256_canonical_document"]
    assert config_hash.hex() == vector["expected_sha256_canonical_proof_options"]


def test_proof_value_byte_for_byte(vector: dict, vector_key: Ed25519PrivateKey) -> None:
    signed = data_integrity.sign(
        vector["unsigned_credential"],
        vector_key,
        vector["verification_method"],
        created=vector["proof_created"],
        proof_purpose=vector["proof_purpose"],
    )
    proof = signed["proof"]
    assert proof["proofValue"] == vector["expected_proof_value"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["created"] == vector["proof_created"]
    # The input is not modified; the output is the input plus the proof.
    assert "proof" not in vector["unsigned_credential"]
    assert {k: v for k, v in signed.items() if k != "proof"} == vector["unsigned_credential"]


def test_vector_verifies_and_detects_a_change(vector: dict, vector_key: Ed25519PrivateKey) -> None:
    signed = {
        **vector["unsigned_credential"],
        "proof": {
            "type": "DataIntegrityProof",
            "cryptosuite": vector["cryptosuite"],
            "created": vector["proof_created"],
            "verificationMethod": vector["verification_method"],
            "proofPurpose": vector["proof_purpose"],
            "proofValue": vector["expected_proof_value"],
        },
    }
    public_key = vector_key.public_key()
    result = data_integrity.verify(signed, lambda vm: public_key)
    assert result.verified, result.reason
    changed = {**signed, "name": "Teamwork Badge!"}
    result = data_integrity.verify(changed, lambda vm: public_key)
    assert not result.verified
    assert result.failure == "signature"
