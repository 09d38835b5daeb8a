"""W3C Bitstring Status List v1.0 (revocation).

The list is a bitstring (index 0 is the most significant bit of the first byte), GZIP-compressed,
base64url-encoded without padding and multibase-prefixed with ``u``. It travels inside a signed
``BitstringStatusListCredential``; each credential points at one bit through a
``BitstringStatusListEntry``. The spec's minimum length is 131,072 bits (16 KiB), so that a
list reveals little about any one holder.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import StatusListError
from .jsonld import VC_V2_CONTEXT
from .multikey import multibase_decode, multibase_encode
from .timefmt import format_datetime

MIN_BITS = 131_072
# A decoded list larger than this is refused (a gzip bomb would otherwise inflate unbounded).
MAX_BITS = 1 << 26  # 8 MiB of bits
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_TYPE = "BitstringStatusList"
LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"


class StatusList:
    """A mutable bitstring; a set bit means the credential at that index has the list's status
    (for ``revocation``: revoked)."""

    def __init__(self, size: int = MIN_BITS, *, bits: bytes | None = None) -> None:
        if bits is not None:
            size = len(bits) * 8
        if size < MIN_BITS:
            raise StatusListError(f"a status list needs at least {MIN_BITS} bits, got {size}")
        if size % 8:
            raise StatusListError(f"status list size must be a multiple of 8, got {size}")
        if size > MAX_BITS:
            raise StatusListError(f"status list size {size} exceeds the limit of {MAX_BITS} bits")
        self._bits = bytearray(bits if bits is not None else size // 8)

    @classmethod
    def decode(cls, encoded: str) -> StatusList:
        return cls(bits=decode(encoded))

    def __len__(self) -> int:
        return len(self._bits) * 8

    def _locate(self, index: int) -> tuple[int, int]:
        if not isinstance(index, int) or isinstance(index, bool):
            raise StatusListError(f"status list index must be an integer, got {index!r}")
        if not 0 <= index < len(self):
            raise StatusListError(f"status list index {index} is outside 0..{len(self) - 1}")
        return index // 8, 0x80 >> (index % 8)

    def get(self, index: int) -> bool:
        byte, mask = self._locate(index)
        return bool(self._bits[byte] & mask)

    def set(self, index: int, value: bool = True) -> None:
        byte, mask = self._locate(index)
        if value:
            self._bits[byte] |= mask
        else:
            self._bits[byte] &= ~mask & 0xFF

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    def encode(self) -> str:
        return encode(self.to_bytes())


def encode(bits: bytes | StatusList) -> str:
    """``u`` + base64url(gzip(bits)). ``mtime=0`` keeps the output reproducible."""
    raw = bits.to_bytes() if isinstance(bits, StatusList) else bytes(bits)
    if len(raw) * 8 < MIN_BITS:
        raise StatusListError(f"a status list needs at least {MIN_BITS} bits, got {len(raw) * 8}")
    return multibase_encode(gzip.compress(raw, compresslevel=9, mtime=0), base="base64url")


def decode(encoded: object) -> bytes:
    """Inverse of :func:`encode`, refusing lists that inflate beyond :data:`MAX_BITS`."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise StatusListError("encodedList must be a base64url multibase string starting with 'u'")
    try:
        compressed = multibase_decode(encoded)
    except ValueError as error:
        raise StatusListError(f"encodedList: {error}") from error
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip container only
    try:
        raw = inflater.decompress(compressed, MAX_BITS // 8 + 1)
    except zlib.error as error:
        raise StatusListError(f"encodedList is not valid GZIP data: {error}") from error
    if len(raw) > MAX_BITS // 8 or inflater.unconsumed_tail:
        raise StatusListError(f"encodedList inflates beyond {MAX_BITS} bits; refusing it")
    if not inflater.eof:
        raise StatusListError("encodedList GZIP data is truncated")
    if len(raw) * 8 < MIN_BITS:
        raise StatusListError(f"decoded status list has {len(raw) * 8} bits, fewer than {MIN_BITS}")
    return raw


@dataclass(frozen=True)
class StatusEntry:
    """Where a credential's status bit lives."""

    list_url: str
    index: int
    purpose: str = "revocation"

    def __post_init__(self) -> None:
        if not isinstance(self.list_url, str) or not self.list_url.startswith(("https:", "http:")):
            raise StatusListError(f"status list URL must be an http(s) URL, got {self.list_url!r}")
        if "#" in self.list_url:
            raise StatusListError("status list URL must not have a #fragment")
        if not isinstance(self.index, int) or isinstance(self.index, bool) or self.index < 0:
            raise StatusListError(
                f"status list index must be a non-negative int, got {self.index!r}"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": f"{self.list_url}#{self.index}",
            "type": ENTRY_TYPE,
            "statusPurpose": self.purpose,
            "statusListIndex": str(self.index),
            "statusListCredential": self.list_url,
        }


def build_status_list_credential(
    list_url: str,
    issuer_id: str,
    bits: bytes | StatusList,
    valid_from: datetime | str,
    *,
    status_purpose: str = "revocation",
) -> dict[str, Any]:
    """An unsigned ``BitstringStatusListCredential`` (sign it with data_integrity.sign)."""
    StatusEntry(list_url, 0, status_purpose)  # validates the URL
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": issuer_id,
        "validFrom": format_datetime(valid_from, field="validFrom"),
    }
    credential["credentialSubject"] = {
        "id": f"{list_url}#list",
        # A plain string: the reference verifier compares it with ===.
        "type": LIST_TYPE,
        "statusPurpose": status_purpose,
        "encodedList": encode(bits),
    }
    return credential


def _types(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def issuer_id_of(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def check(entry: Mapping[str, Any], status_list_credential: Mapping[str, Any]) -> bool:
    """True when the entry's bit is set (for ``revocation``: the credential is revoked).

    Checks that the entry and the list agree (URL, purpose, type, index in range). It does not
    verify the list credential's proof: the verification pipeline does that first.
    """
    if not isinstance(entry, Mapping) or entry.get("type") != ENTRY_TYPE:
        raise StatusListError(f"credentialStatus.type must be {ENTRY_TYPE!r}")
    list_url = entry.get("statusListCredential")
    if status_list_credential.get("id") != list_url:
        raise StatusListError(
            f"status list credential id {status_list_credential.get('id')!r} does not match "
            f"statusListCredential {list_url!r}"
        )
    if LIST_CREDENTIAL_TYPE not in _types(status_list_credential.get("type")):
        raise StatusListError(f"the status list credential is not a {LIST_CREDENTIAL_TYPE}")
    subject = status_list_credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or LIST_TYPE not in _types(subject.get("type")):
        raise StatusListError(f"the status list credentialSubject is not a {LIST_TYPE}")
    if subject.get("statusPurpose") != entry.get("statusPurpose"):
        raise StatusListError(
            f"status purpose {entry.get('statusPurpose')!r} of the credential does not match "
            f"{subject.get('statusPurpose')!r} of the list"
        )
    if entry.get("statusSize", 1) not in (1, "1"):
        raise StatusListError("only statusSize 1 is supported")
    raw_index = entry.get("statusListIndex")
    if not isinstance(raw_index, str) or not raw_index.isdigit() or not raw_index.isascii():
        raise StatusListError(f"statusListIndex must be a string of digits, got {raw_index!r}")
    return StatusList(bits=decode(subject.get("encodedList"))).get(int(raw_index))
