"""did:key and did:web identifiers, documents and resolution."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from credentials import did, multikey
from credentials.errors import KeyResolutionError


def _raw(key) -> bytes:
    return multikey.raw_public_key(key)


def test_did_key_round_trip(signing_key) -> None:
    public = signing_key.public_key()
    identifier = did.did_key(public)
    assert identifier.startswith("did:key:z6Mk")
    vm = did.did_key_verification_method(public)
    assert vm == f"{identifier}#{identifier.removeprefix('did:key:')}"
    assert _raw(did.resolve_verification_method(vm)) == _raw(public)
    document = did.did_key_document(public)
    assert document["id"] == identifier
    assert document["assertionMethod"] == [vm]
    (method,) = document["verificationMethod"]
    assert method["type"] == "Multikey" and method["controller"] == identifier
    assert _raw(multikey.multikey_to_public_key(method["publicKeyMultibase"])) == _raw(public)


def test_did_key_fragment_must_be_the_key(signing_key, other_key) -> None:
    identifier = did.did_key(signing_key.public_key())
    other = did.did_key(other_key.public_key()).removeprefix("did:key:")
    with pytest.raises(KeyResolutionError, match="does not match"):
        did.resolve_verification_method(f"{identifier}#{other}")
    with pytest.raises(KeyResolutionError, match="Ed25519 did:key"):
        did.resolve_verification_method(
            "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme#x"
        )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("skills.example.edu", "did:web:skills.example.edu"),
        ("Skills.Example.EDU", "did:web:skills.example.edu"),
        ("https://skills.example.edu/", "did:web:skills.example.edu"),
        ("localhost:8443", "did:web:localhost%3A8443"),
        ("example.com:3000/user/alice", "did:web:example.com%3A3000:user:alice"),
        ("example.com/issuers/a b", "did:web:example.com:issuers:a%20b"),
    ],
)
def test_did_web_identifiers(given: str, expected: str) -> None:
    assert did.did_web(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "http://example.com",
        "exa mple.com",
        "example.com:0",
        "example.com:99999",
        "user@example.com",
        "example.com//x",
        "-bad-.example",
    ],
)
def test_did_web_rejects_bad_hosts(bad: str) -> None:
    with pytest.raises(ValueError):
        did.did_web(bad)


@pytest.mark.parametrize(
    ("identifier", "url"),
    [
        ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
        ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
        ("did:web:example.com%3A3000:user:alice", "https://example.com:3000/user/alice/did.json"),
    ],
)
def test_did_web_document_urls(identifier: str, url: str) -> None:
    assert did.did_web_document_url(identifier) == url


def test_did_web_document_lists_every_key_for_assertion(
    issuer_did, did_document, signing_key, other_key
) -> None:
    assert did_document["id"] == issuer_did
    ids = [m["id"] for m in did_document["verificationMethod"]]
    assert ids == [f"{issuer_did}#key-1", f"{issuer_did}#key-2"]
    assert did_document["assertionMethod"] == ids
    documents = {issuer_did: did_document}
    assert _raw(did.resolve_verification_method(ids[0], documents)) == _raw(other_key.public_key())
    assert _raw(did.resolve_verification_method(ids[1], documents)) == _raw(
        signing_key.public_key()
    )


def test_did_web_document_validation(issuer_did, signing_key) -> None:
    key = signing_key.public_key()
    with pytest.raises(ValueError, match="twice"):
        did.did_web_document(issuer_did, [("k", key), ("k", key)])
    with pytest.raises(ValueError, match="fragment"):
        did.did_web_document(issuer_did, [("", key)])
    with pytest.raises(ValueError, match="at least one"):
        did.did_web_document(issuer_did, [])
    with pytest.raises(ValueError, match="did:web"):
        did.did_web_document("did:key:z6Mk", [("k", key)])


def test_resolution_failures_say_what_is_missing(issuer_did, did_document) -> None:
    with pytest.raises(KeyResolutionError, match=r"no DID document .*well-known/did\.json"):
        did.resolve_verification_method(f"{issuer_did}#key-1", {})
    with pytest.raises(KeyResolutionError, match="not listed under 'assertionMethod'"):
        did.resolve_verification_method(f"{issuer_did}#key-9", {issuer_did: did_document})
    with pytest.raises(KeyResolutionError, match="does not match"):
        did.resolve_verification_method(
            "did:web:other.example#key-1", {"did:web:other.example": did_document}
        )
    with pytest.raises(KeyResolutionError, match="not a DID URL"):
        did.resolve_verification_method("https://example.edu/keys/1", {})
    with pytest.raises(KeyResolutionError, match="no #fragment"):
        did.resolve_verification_method(issuer_did, {issuer_did: did_document})


def test_relative_method_ids_and_foreign_controllers(issuer_did, signing_key) -> None:
    mk = multikey.public_key_to_multikey(signing_key.public_key())
    document = {
        "id": issuer_did,
        "verificationMethod": [
            {"id": "#a", "type": "Multikey", "controller": issuer_did, "publicKeyMultibase": mk},
            {
                "id": "#b",
                "type": "Multikey",
                "controller": "did:web:evil.example",
                "publicKeyMultibase": mk,
            },
        ],
        "assertionMethod": ["#a", "#b"],
    }
    documents = {issuer_did: document}
    assert _raw(did.resolve_verification_method(f"{issuer_did}#a", documents)) == _raw(
        signing_key.public_key()
    )
    with pytest.raises(KeyResolutionError, match="controlled by"):
        did.resolve_verification_method(f"{issuer_did}#b", documents)


def _b64(n: int) -> str:
    return (
        base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
    )


def test_json_web_key_methods(issuer_did) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = rsa_key.public_key().public_numbers()
    ed_key = Ed25519PrivateKey.generate()
    document = {
        "id": issuer_did,
        "verificationMethod": [
            {
                "id": f"{issuer_did}#rsa",
                "type": "JsonWebKey",
                "controller": issuer_did,
                "publicKeyJwk": {"kty": "RSA", "n": _b64(numbers.n), "e": _b64(numbers.e)},
            },
            {
                "id": f"{issuer_did}#ed",
                "type": "JsonWebKey2020",
                "controller": issuer_did,
                "publicKeyJwk": {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": base64.urlsafe_b64encode(_raw(ed_key.public_key())).rstrip(b"=").decode(),
                },
            },
            {
                "id": f"{issuer_did}#leak",
                "type": "JsonWebKey",
                "controller": issuer_did,
                "publicKeyJwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "secret"},
            },
        ],
        "assertionMethod": [f"{issuer_did}#rsa", f"{issuer_did}#ed", f"{issuer_did}#leak"],
    }
    documents = {issuer_did: document}
    assert did.resolve_public_key(f"{issuer_did}#rsa", documents).public_numbers() == numbers
    assert _raw(did.resolve_verification_method(f"{issuer_did}#ed", documents)) == _raw(
        ed_key.public_key()
    )
    with pytest.raises(KeyResolutionError, match="not an Ed25519 key"):
        did.resolve_verification_method(f"{issuer_did}#rsa", documents)
    with pytest.raises(KeyResolutionError, match="private key material"):
        did.resolve_public_key(f"{issuer_did}#leak", documents)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "z",
        "zzz0OIl",
        "uAAAA",
        "m" + "A" * 10,
        "z6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc",
    ],
)
def test_malformed_multikeys_are_refused(bad: str) -> None:
    with pytest.raises(KeyResolutionError):
        multikey.multikey_to_public_key(bad)


def test_multibase_round_trips() -> None:
    data = bytes(range(256))
    for base in ("base58btc", "base64url"):
        encoded = multikey.multibase_encode(data, base=base)
        assert multikey.multibase_decode(encoded) == data
    assert (
        multikey.multibase_encode(b"\x00\x01", base="base58btc") == "z12"
    )  # a leading zero byte is "1", then 1 is "2"
    with pytest.raises(ValueError, match="prefix"):
        multikey.multibase_decode("fabcd")
