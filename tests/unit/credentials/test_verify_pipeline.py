"""The one verification pipeline: every input form, every status, always six checks."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from credentials import baking, data_integrity, did, jwt, ob3
from credentials.verify import CHECK_NAMES, verify


@pytest.fixture
def fetchers(did_fetcher, status_list_for, list_url):
    lists = {list_url: status_list_for()}
    return {"did_documents_fetcher": did_fetcher, "status_list_fetcher": lists.get}


@pytest.fixture
def signed(make_credential, sign) -> dict:
    return sign(make_credential())


def _assert_shape(result) -> None:
    assert [c.name for c in result.checks] == list(CHECK_NAMES)
    assert result.valid == (result.status == "valid")
    as_json = json.loads(json.dumps(result.to_dict()))
    assert [c["name"] for c in as_json["checks"]] == list(CHECK_NAMES)
    for check in result.checks:
        assert check.reason


def test_valid_json_in_every_container(signed, fetchers, now, png, svg) -> None:
    text = json.dumps(signed)
    inputs = {
        "json": signed,
        "json (text)": text,
        "json (bytes)": text.encode(),
        "png+json": baking.bake_png(png, text),
        "svg+json": baking.bake_svg(svg, text),
    }
    for label, data in inputs.items():
        result = verify(data, now=now, **fetchers)
        _assert_shape(result)
        assert result.status == "valid", (label, result.to_dict()["checks"])
        assert result.format == label.split(" ")[0]
        assert result.credential == signed
        assert all(c.ok for c in result.checks)
        assert result.issuer == signed["issuer"]["id"]


def test_valid_jwt_in_every_container(
    make_credential, signing_key, verification_method, fetchers, now, png, svg
) -> None:
    credential = make_credential()
    token = jwt.sign_vc_jwt(credential, signing_key, verification_method)
    for fmt, data in {
        "jwt": token,
        "png+jwt": baking.bake_png(png, token),
        "svg+jwt": baking.bake_svg(svg, token),
    }.items():
        result = verify(data, now=now, **fetchers)
        _assert_shape(result)
        assert result.status == "valid", result.to_dict()["checks"]
        assert result.format == fmt
        assert result.credential == credential


def test_revoked(signed, did_fetcher, status_list_for, list_url, now) -> None:
    lists = {list_url: status_list_for(41, 42)}
    result = verify(
        signed, did_documents_fetcher=did_fetcher, status_list_fetcher=lists.get, now=now
    )
    _assert_shape(result)
    assert result.status == "revoked" and not result.valid
    assert result.check("status").ok is False
    assert "revocation: bit 42" in result.check("status").reason
    assert result.check("proof").ok is True


def test_expired_and_not_yet_valid(make_credential, sign, fetchers) -> None:
    signed = sign(make_credential(valid_until="2026-01-01T00:00:00Z"))
    expired = verify(signed, now=datetime(2026, 1, 2, tzinfo=UTC), **fetchers)
    _assert_shape(expired)
    assert expired.status == "expired" and "expired on" in expired.check("validity").reason
    early = verify(signed, now=datetime(2024, 12, 31, tzinfo=UTC), **fetchers)
    assert early.status == "not_yet_valid"
    assert verify(signed, now=datetime(2025, 6, 1, tzinfo=UTC), **fetchers).status == "valid"


def test_tampered_is_invalid(signed, fetchers, now) -> None:
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["achievement"]["name"] = "Senior level"
    result = verify(tampered, now=now, **fetchers)
    _assert_shape(result)
    assert result.status == "invalid"
    assert result.check("proof").ok is False
    assert "signature does not match" in result.check("proof").reason
    assert result.check("status").ok is None  # skipped after the failure


def test_undefined_term_is_reported_as_not_well_formed(signed, fetchers, now) -> None:
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["achievment"] = {}
    result = verify(tampered, now=now, **fetchers)
    assert result.status == "invalid"
    assert result.check("well_formed").ok is False
    assert "achievment" in result.check("well_formed").reason
    assert result.check("proof").ok is None


def test_signed_by_someone_else_is_invalid(make_credential, other_key, fetchers, now) -> None:
    # A valid signature by a did:key that is not the issuer's.
    stranger = did.did_key_verification_method(other_key.public_key())
    signed = data_integrity.sign(make_credential(), other_key, stranger)
    result = verify(signed, now=now, **fetchers)
    assert result.status == "invalid"
    assert result.check("proof").ok is True
    assert result.check("issuer_key").ok is False
    assert "does not belong to the issuer" in result.check("issuer_key").reason


def test_jwt_by_someone_else_is_invalid(make_credential, other_key, fetchers, now) -> None:
    stranger = did.did_key_verification_method(other_key.public_key())
    token = jwt.sign_vc_jwt(make_credential(), other_key, stranger)
    result = verify(token, now=now, **fetchers)
    assert result.status == "invalid" and result.check("issuer_key").ok is False


def test_unknown_issuer_document_is_invalid(signed, list_url, status_list_for, now) -> None:
    result = verify(
        signed,
        did_documents_fetcher=lambda d: None,
        status_list_fetcher={list_url: status_list_for()}.get,
        now=now,
    )
    assert result.status == "invalid"
    assert result.check("issuer_key").ok is False and result.check("proof").ok is None
    no_fetcher = verify(signed, now=now)
    assert "no DID document fetcher" in no_fetcher.check("issuer_key").reason

    def broken(did_: str) -> dict:
        raise OSError("connection refused")

    failing = verify(signed, did_documents_fetcher=broken, now=now)
    assert "connection refused" in failing.check("issuer_key").reason


def test_status_list_problems_make_it_invalid(
    signed, did_fetcher, status_list_for, list_url, other_key, issuer_did, now
) -> None:
    def run(list_credential):
        return verify(
            signed,
            did_documents_fetcher=did_fetcher,
            status_list_fetcher=lambda url: list_credential,
            now=now,
        )

    tampered = status_list_for()
    tampered["credentialSubject"]["encodedList"] = status_list_for(42)["credentialSubject"][
        "encodedList"
    ]
    untrusted = run(tampered)
    assert untrusted.status == "invalid" and "not trusted" in untrusted.check("status").reason
    assert untrusted.valid is False


def test_unreachable_status_list_is_unknown_not_invalid(signed, did_fetcher, now) -> None:
    """A list that cannot be fetched says nothing about the credential: the signature checks
    still pass, the status is not known, and the verdict says exactly that, never "valid"."""

    def unreachable(url: str) -> dict:
        raise OSError("connection timed out")

    for fetcher, why in (
        ({}.get, "could not be fetched"),
        (unreachable, "connection timed out"),
        (None, "no status list fetcher"),
    ):
        result = verify(
            signed, did_documents_fetcher=did_fetcher, status_list_fetcher=fetcher, now=now
        )
        assert result.status == "status_unknown", why
        assert result.valid is False
        assert result.check("proof").ok is True and result.check("issuer_key").ok is True
        assert result.check("status").ok is None
        assert (
            "could not be checked" in result.check("status").reason
            and why in result.check("status").reason
        )
        assert result.check("validity").ok is True


def test_credential_without_status_can_be_valid(make_credential, sign, did_fetcher, now) -> None:
    result = verify(sign(make_credential(status=None)), did_documents_fetcher=did_fetcher, now=now)
    assert result.status == "valid"
    assert result.check("status").ok is None


def test_did_key_issuer_needs_no_fetcher(make_credential, signing_key, now) -> None:
    vm = did.did_key_verification_method(signing_key.public_key())
    credential = make_credential(issuer=ob3.Issuer(id=vm.split("#")[0], name="Demo"), status=None)
    result = verify(data_integrity.sign(credential, signing_key, vm), now=now)
    assert result.status == "valid", result.to_dict()["checks"]


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01garbage",
        "hello",
        "",
        b"\x89PNG\r\n\x1a\nbroken",
        "<svg",
        "{not json",
        '{"a": 1, "a": 2}',
        "[1, 2]",
        42,
    ],
)
def test_unreadable_inputs(data) -> None:
    result = verify(data)
    _assert_shape(result)
    assert result.status == "unreadable"
    assert result.check("format").ok is False
    assert all(c.ok is None for c in result.checks[1:])


def test_not_an_open_badge_is_invalid(fetchers, now) -> None:
    result = verify(
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"]},
        now=now,
        **fetchers,
    )
    assert result.status == "invalid" and result.check("well_formed").ok is False
    assert verify({}, now=now).status == "invalid"


def test_unsigned_credential_is_invalid(make_credential, fetchers, now) -> None:
    result = verify(make_credential(), now=now, **fetchers)
    assert result.status == "invalid"
    assert result.check("proof").ok is False and "not signed" in result.check("proof").reason


def test_deeply_nested_input_is_refused_not_crashed(signed, fetchers, now) -> None:
    deep_text = '{"a":' * 100_000 + "1" + "}" * 100_000
    assert verify(deep_text, now=now, **fetchers).status == "unreadable"
    nested: dict = {}
    node = nested
    for _ in range(5_000):
        node["description"] = {}
        node = node["description"]
    deep = {**signed, "evidence": nested}
    result = verify(deep, now=now, **fetchers)
    assert result.status == "invalid"
    assert "nested too deeply" in result.check("well_formed").reason
