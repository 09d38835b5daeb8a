"""The key store: private files, rotation, publication."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from keys import KeyKind, KeyStore, KeyStoreError


def test_keys_are_created_once_with_mode_0600(tmp_path):
    store = KeyStore(tmp_path / "keys")
    rsa = store.ensure(KeyKind.RSA)
    assert store.ensure(KeyKind.RSA) == rsa
    ed = store.ensure(KeyKind.ED25519)
    assert rsa.kid != ed.kid
    for kid in (rsa.kid, ed.kid):
        assert (tmp_path / "keys" / f"{kid}.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    index = json.loads((tmp_path / "keys" / "index.json").read_text())
    assert "PRIVATE" not in json.dumps(index)


def test_jwks_publishes_public_parts_only(tmp_path):
    store = KeyStore(tmp_path)
    record = store.ensure(KeyKind.RSA)
    jwks = store.public_jwks()
    assert [k["kid"] for k in jwks["keys"]] == [record.kid]
    assert jwks["keys"][0]["alg"] == "RS256"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwks["keys"][0])


def test_rotation_keeps_old_key_published_for_grace_period(tmp_path):
    store = KeyStore(tmp_path)
    old = store.ensure(KeyKind.RSA)
    new = store.rotate(KeyKind.RSA, grace=timedelta(days=7))
    assert store.active(KeyKind.RSA).kid == new.kid
    now = datetime.now(UTC)
    assert {k["kid"] for k in store.public_jwks(now=now)["keys"]} == {old.kid, new.kid}
    later = now + timedelta(days=8)
    assert {k["kid"] for k in store.public_jwks(now=later)["keys"]} == {new.kid}


def test_credential_key_rotation_without_grace_stays_published(tmp_path):
    store = KeyStore(tmp_path)
    old = store.ensure(KeyKind.ED25519)
    store.rotate(KeyKind.ED25519)
    far = datetime.now(UTC) + timedelta(days=3650)
    assert old.kid in {r.kid for r in store.published(KeyKind.ED25519, far)}
    store.retire(old.kid)
    assert old.kid not in {r.kid for r in store.published(KeyKind.ED25519)}


def test_active_key_cannot_be_retired_and_unknown_kid_is_refused(tmp_path):
    store = KeyStore(tmp_path)
    record = store.ensure(KeyKind.ED25519)
    with pytest.raises(KeyStoreError, match="active"):
        store.retire(record.kid)
    with pytest.raises(KeyStoreError, match="unknown key id"):
        store.private_key("A" * 43)
    with pytest.raises(KeyStoreError, match="malformed"):
        store._key_path("../../etc/passwd")


def test_rsa_credential_key_is_its_own_key(tmp_path) -> None:
    """VC-JWTs are signed RS256 with a key of their own: not the LTI key, never in the LTI
    JWKS, rotated without a grace period (credentials outlive a week)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    store = KeyStore(tmp_path / "keys")
    lti = store.ensure(KeyKind.RSA)
    credential = store.ensure(KeyKind.RSA_CREDENTIAL)
    assert credential.kid != lti.kid
    assert isinstance(store.private_key(credential.kid), rsa.RSAPrivateKey)
    assert store.private_key(credential.kid).key_size >= 2048
    assert [k["kid"] for k in store.public_jwks(KeyKind.RSA)["keys"]] == [lti.kid]
    rotated = store.rotate(KeyKind.RSA_CREDENTIAL)
    assert {r.kid for r in store.published(KeyKind.RSA_CREDENTIAL)} == {credential.kid, rotated.kid}
