"""Fixtures for the pure credentials package: fresh keys per run, a did:web issuer with its
DID document, a realistic OpenBadgeCredential builder, a signed status list, tiny images."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from credentials import data_integrity, did, ob3, status_list

ISSUER_HOST = "skills.example.edu"
LIST_URL = f"https://{ISSUER_HOST}/status/revocation/1"
VALID_FROM = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def other_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def issuer_did() -> str:
    return did.did_web(ISSUER_HOST)


@pytest.fixture(scope="session")
def verification_method(issuer_did: str) -> str:
    return f"{issuer_did}#key-2"


@pytest.fixture(scope="session")
def did_document(
    issuer_did: str, signing_key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> dict:
    # key-1 is an older (rotated, not retired) key; key-2 signs new credentials.
    return did.did_web_document(
        issuer_did, [("key-1", other_key.public_key()), ("key-2", signing_key.public_key())]
    )


@pytest.fixture(scope="session")
def did_fetcher(issuer_did: str, did_document: dict) -> Callable[[str], dict | None]:
    return lambda requested: did_document if requested == issuer_did else None


def achievement(**overrides: Any) -> ob3.AchievementInput:
    values: dict[str, Any] = {
        "id": f"https://{ISSUER_HOST}/frameworks/psych-tech/1.0/levels/entry",
        "name": "Psychiatric Technician - Entry level",
        "description": "Meets every competency statement of the entry level.",
        "criteria_narrative": "An instructor signed off each statement of the level.",
        "alignments": [
            ob3.Alignment(
                target_name=f"Competency {i}",
                target_url=f"https://case.example.org/uri/{i:04d}",
                target_description=f"Competency {i} - performs task {i} safely",
                target_code=f"PT.1.{i}",
                target_framework="Psychiatric Technicians 1.0",
            )
            for i in range(1, 4)
        ],
        "tags": ("healthcare", "entry"),
    }
    values.update(overrides)
    return ob3.AchievementInput(**values)


@pytest.fixture
def make_credential(issuer_did: str) -> Callable[..., dict]:
    """An unsigned credential; keyword arguments override build_credential's."""

    def build(**overrides: Any) -> dict:
        values: dict[str, Any] = {
            "credential_id": "urn:uuid:0b0e7c6e-8c1e-4f4a-9a55-3c1e2f6d7a10",
            "issuer": ob3.Issuer(
                id=issuer_did, name="Example College", url=f"https://{ISSUER_HOST}"
            ),
            "achievement": achievement(),
            "subject": ob3.Subject(id="did:example:learner-1"),
            "valid_from": VALID_FROM,
            "status": status_list.StatusEntry(LIST_URL, 42),
            "evidence": (
                ob3.EvidenceItem(name="Sign-offs", narrative="3 of 3 statements signed off"),
            ),
        }
        values.update(overrides)
        return ob3.build_credential(**values)

    return build


@pytest.fixture
def sign(signing_key: Ed25519PrivateKey, verification_method: str) -> Callable[[dict], dict]:
    return lambda document: data_integrity.sign(document, signing_key, verification_method)


@pytest.fixture
def status_list_for(issuer_did: str, sign: Callable[[dict], dict]) -> Callable[..., dict]:
    """A signed status list credential with the given indexes revoked."""

    def build(*revoked: int) -> dict:
        bits = status_list.StatusList()
        for index in revoked:
            bits.set(index)
        return sign(
            status_list.build_status_list_credential(LIST_URL, issuer_did, bits, VALID_FROM)
        )

    return build


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def make_png(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny, grey) PNG image."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


SVG = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" data-note="a &gt; b">\n'
    '  <circle cx="5" cy="5" r="4" fill="#036"/>\n'
    "</svg>\n"
)


@pytest.fixture
def png() -> bytes:
    return make_png()


@pytest.fixture
def svg() -> str:
    return SVG


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def list_url() -> str:
    return LIST_URL


@pytest.fixture
def achievement_factory() -> Callable[..., ob3.AchievementInput]:
    return achievement
