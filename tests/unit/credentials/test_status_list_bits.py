"""W3C Bitstring Status List: bit order, encoding, limits and checks."""

from __future__ import annotations

import base64
import gzip

import pytest

from credentials import status_list
from credentials.errors import StatusListError


def test_minimum_size_and_bit_order() -> None:
    bits = status_list.StatusList()
    assert len(bits) == 131_072
    assert len(bits.to_bytes()) == 16 * 1024
    bits.set(0)
    bits.set(9)
    bits.set(131_071)
    raw = bits.to_bytes()
    # Index 0 is the leftmost (most significant) bit of the first byte.
    assert raw[0] == 0x80 and raw[1] == 0x40 and raw[-1] == 0x01
    assert bits.get(0) and bits.get(9) and not bits.get(1)
    bits.set(9, False)
    assert not bits.get(9) and bits.get(0)
    with pytest.raises(StatusListError, match="at least"):
        status_list.StatusList(1024)
    with pytest.raises(StatusListError, match="outside"):
        bits.get(131_072)
    with pytest.raises(StatusListError, match="integer"):
        bits.set(True)  # type: ignore[arg-type]


def test_encoding_is_gzip_base64url_with_u_prefix() -> None:
    bits = status_list.StatusList()
    bits.set(12345)
    encoded = status_list.encode(bits)
    assert (
        encoded.startswith("u") and "=" not in encoded and "+" not in encoded and "/" not in encoded
    )
    body = encoded[1:]
    raw = gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert raw == bits.to_bytes()
    assert status_list.decode(encoded) == bits.to_bytes()
    assert status_list.StatusList.decode(encoded).get(12345)
    assert status_list.encode(bits) == encoded  # reproducible (gzip mtime fixed)


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        ("zabc", "starting with 'u'"),
        ("u!!!", "base64url"),
        ("u" + base64.urlsafe_b64encode(b"not gzip").decode().rstrip("="), "GZIP"),
        (
            "u" + base64.urlsafe_b64encode(gzip.compress(b"\x00" * 100)).decode().rstrip("="),
            "fewer than",
        ),
    ],
)
def test_bad_encodings_are_refused(encoded: str, message: str) -> None:
    with pytest.raises(StatusListError, match=message):
        status_list.decode(encoded)


def test_gzip_bombs_are_refused() -> None:
    bomb = gzip.compress(b"\x00" * (status_list.MAX_BITS // 8 + 4096))
    encoded = "u" + base64.urlsafe_b64encode(bomb).decode().rstrip("=")
    with pytest.raises(StatusListError, match="inflates beyond"):
        status_list.decode(encoded)


def test_status_entry_shape() -> None:
    entry = status_list.StatusEntry("https://skills.example.edu/status/1", 42).to_json()
    assert entry == {
        "id": "https://skills.example.edu/status/1#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": "https://skills.example.edu/status/1",
    }
    with pytest.raises(StatusListError):
        status_list.StatusEntry("ftp://x/list", 1)
    with pytest.raises(StatusListError):
        status_list.StatusEntry("https://x/list", -1)


def test_list_credential_and_check(issuer_did, list_url) -> None:
    bits = status_list.StatusList()
    bits.set(42)
    credential = status_list.build_status_list_credential(
        list_url, issuer_did, bits, "2025-01-01T00:00:00Z"
    )
    assert credential["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert credential["issuer"] == issuer_did
    subject = credential["credentialSubject"]
    assert subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "revocation"
    assert status_list.check(status_list.StatusEntry(list_url, 42).to_json(), credential) is True
    assert status_list.check(status_list.StatusEntry(list_url, 41).to_json(), credential) is False


def test_check_refuses_mismatches(issuer_did, list_url) -> None:
    credential = status_list.build_status_list_credential(
        list_url, issuer_did, status_list.StatusList(), "2025-01-01T00:00:00Z"
    )
    entry = status_list.StatusEntry(list_url, 1).to_json()
    with pytest.raises(StatusListError, match="does not match"):
        status_list.check({**entry, "statusListCredential": list_url + "x"}, credential)
    with pytest.raises(StatusListError, match="purpose"):
        status_list.check({**entry, "statusPurpose": "suspension"}, credential)
    with pytest.raises(StatusListError, match="digits"):
        status_list.check({**entry, "statusListIndex": 1}, credential)
    with pytest.raises(StatusListError, match="outside"):
        status_list.check({**entry, "statusListIndex": "131072"}, credential)
    with pytest.raises(StatusListError, match="type"):
        status_list.check({**entry, "type": "StatusList2021Entry"}, credential)
