"""Multibase and Multikey encodings for Ed25519 public keys and proof values.

A Multikey is ``"z"`` (multibase base58btc) + base58btc(multicodec varint 0xed01 + 32 raw key
bytes), which always starts with ``z6Mk``.
"""

from __future__ import annotations

import base64
import binascii
import re

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import KeyResolutionError

ED25519_PUB_MULTICODEC = b"\xed\x01"  # varint of 0xed, the ed25519-pub multicodec
_ED25519_KEY_LENGTH = 32
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def multibase_encode(data: bytes, *, base: str = "base58btc") -> str:
    """Multibase-encode ``data`` as base58btc (``z``) or base64url without padding (``u``)."""
    if base == "base58btc":
        return "z" + base58.b58encode(data).decode("ascii")
    if base == "base64url":
        return "u" + base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
    raise ValueError(f"unsupported multibase {base!r}: use 'base58btc' or 'base64url'")


def multibase_decode(value: str) -> bytes:
    """Decode a ``z`` (base58btc) or ``u`` (base64url) multibase string.

    Raises ValueError saying which part is wrong.
    """
    if not isinstance(value, str) or len(value) < 2:
        raise ValueError("a multibase value must be a string of at least two characters")
    prefix, body = value[0], value[1:]
    if prefix == "z":
        try:
            return base58.b58decode(body.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as error:
            raise ValueError(f"invalid base58btc in multibase value: {error}") from error
    if prefix == "u":
        try:
            return b64url_decode(body)
        except ValueError as error:
            raise ValueError(f"invalid base64url in multibase value: {error}") from error
    raise ValueError(f"unsupported multibase prefix {prefix!r}: expected 'z' or 'u'")


def b64url_decode(value: str) -> bytes:
    """Strict unpadded base64url (the stdlib decoder silently skips unknown characters)."""
    if not isinstance(value, str) or not _BASE64URL.match(value):
        raise ValueError("not base64url: unexpected characters or padding")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except binascii.Error as error:
        raise ValueError(f"not base64url: {error}") from error


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    if not isinstance(public_key, Ed25519PublicKey):
        raise TypeError(f"an Ed25519PublicKey is required, got {type(public_key).__name__}")
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_to_multikey(public_key: Ed25519PublicKey) -> str:
    """``z6Mk...`` Multikey of an Ed25519 public key."""
    return multibase_encode(ED25519_PUB_MULTICODEC + raw_public_key(public_key))


def multikey_to_public_key(multikey: str) -> Ed25519PublicKey:
    """Parse an Ed25519 Multikey (``z6Mk...``). Raises KeyResolutionError when it is not one."""
    try:
        decoded = multibase_decode(multikey)
    except ValueError as error:
        raise KeyResolutionError(f"publicKeyMultibase {multikey!r}: {error}") from error
    if not decoded.startswith(ED25519_PUB_MULTICODEC):
        raise KeyResolutionError(
            f"publicKeyMultibase {multikey!r} is not an Ed25519 key (multicodec 0xed01 expected)"
        )
    raw = decoded[len(ED25519_PUB_MULTICODEC) :]
    if len(raw) != _ED25519_KEY_LENGTH:
        raise KeyResolutionError(
            f"publicKeyMultibase {multikey!r} holds {len(raw)} key bytes, expected 32"
        )
    return Ed25519PublicKey.from_public_bytes(raw)
