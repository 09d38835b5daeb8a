"""Forged and broken JWTs, made by hand: what an attacker can send, not what a library allows.

Libraries refuse to make most of these (``alg: none``, HS256 keyed with an RSA public key),
which is exactly why they are built here from their parts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_HASHES = {"RS256": hashes.SHA256, "RS384": hashes.SHA384, "RS512": hashes.SHA512}
_HMACS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def unsigned(header: Any, claims: Any) -> str:
    """``header.claims`` (no signature part), each JSON-encoded: the signing input."""
    return f"{b64url_json(header)}.{b64url_json(claims)}"


def load_private(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def public_pem(private: rsa.RSAPrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign_rs(
    claims: Any, private: rsa.RSAPrivateKey, kid: str | None, alg: str = "RS256", **header: Any
) -> str:
    """A correctly signed RS256/384/512 JWT (with extra header members if given)."""
    head: dict[str, Any] = {"alg": alg, "typ": "JWT", **header}
    if kid is not None:
        head["kid"] = kid
    signing_input = unsigned(head, claims)
    signature = private.sign(signing_input.encode("ascii"), padding.PKCS1v15(), _HASHES[alg]())
    return f"{signing_input}.{b64url(signature)}"


def sign_hs(claims: Any, secret: bytes, kid: str | None, alg: str = "HS256") -> str:
    """The key-confusion attack: HMAC keyed with bytes the verifier may hold as a public key."""
    head: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        head["kid"] = kid
    signing_input = unsigned(head, claims)
    mac = hmac.new(secret, signing_input.encode("ascii"), _HMACS[alg]).digest()
    return f"{signing_input}.{b64url(mac)}"


def alg_none(claims: Any, kid: str | None, alg: str = "none", signature: str = "") -> str:
    head: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        head["kid"] = kid
    return f"{unsigned(head, claims)}.{signature}"


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a compact JWT, without checking anything (test use only)."""
    header, body, _ = token.split(".")
    pad = lambda part: part + "=" * (-len(part) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(body))),
    )
