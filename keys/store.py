"""File-backed key store.

Layout of the store directory (mode 0700)::

    index.json        metadata only: kid, kind, status, dates (no secrets)
    <kid>.pem         PKCS#8 private key, mode 0600, written once

Several app processes may start at once and each may ask for a key, so every
change to the index happens under an exclusive ``flock`` on ``.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from joserfc.jwk import OKPKey, RSAKey

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey

_KID_RE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


class KeyStoreError(RuntimeError):
    """The store is unreadable, or a key asked for does not exist."""


class KeyKind(StrEnum):
    RSA = "rsa"  # LTI message signing (RS256)
    ED25519 = "ed25519"  # credential proofs (eddsa-rdfc-2022, EdDSA JWT)
    # VC-JWTs signed RS256 (OB 3.0 section 8.2's minimum). Not the LTI key: a credential key
    # stays published for as long as its credentials are verified, an LTI key rotates out
    # after a week, and one key should serve one purpose.
    RSA_CREDENTIAL = "rsa-credential"

    @property
    def is_rsa(self) -> bool:
        return self in (KeyKind.RSA, KeyKind.RSA_CREDENTIAL)


class KeyStatus(StrEnum):
    ACTIVE = "active"  # signs new messages
    RETIRING = "retiring"  # still published (old messages verify), signs nothing new
    RETIRED = "retired"  # no longer published


@dataclass(frozen=True, slots=True)
class KeyRecord:
    kid: str
    kind: KeyKind
    status: KeyStatus
    created_at: datetime
    # A retiring key stays published until then; None means "until retired by hand".
    publish_until: datetime | None = None

    def published(self, now: datetime) -> bool:
        if self.status is KeyStatus.ACTIVE:
            return True
        if self.status is KeyStatus.RETIRED:
            return False
        return self.publish_until is None or now < self.publish_until

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["status"] = self.status.value
        data["created_at"] = self.created_at.isoformat()
        data["publish_until"] = self.publish_until.isoformat() if self.publish_until else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyRecord:
        until = data.get("publish_until")
        return cls(
            kid=data["kid"],
            kind=KeyKind(data["kind"]),
            status=KeyStatus(data["status"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            publish_until=datetime.fromisoformat(until) if until else None,
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _thumbprint(key: PrivateKey) -> str:
    """RFC 7638 thumbprint of the public key: a stable, collision-free kid."""
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return RSAKey.import_key(public).thumbprint()
    return OKPKey.import_key(public).thumbprint()


class KeyStore:
    """Create, load, rotate and publish the tool's keys."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    # -- reading -----------------------------------------------------------
    def records(self, kind: KeyKind | None = None) -> list[KeyRecord]:
        records = self._read_index()
        return [r for r in records if kind is None or r.kind is kind]

    def active(self, kind: KeyKind) -> KeyRecord:
        for record in reversed(self.records(kind)):
            if record.status is KeyStatus.ACTIVE:
                return record
        raise KeyStoreError(
            f"no active {kind.value} key in {self.directory}; run `skillsign keys ensure`"
        )

    def published(self, kind: KeyKind, now: datetime | None = None) -> list[KeyRecord]:
        moment = now or _now()
        return [r for r in self.records(kind) if r.published(moment)]

    def get(self, kid: str) -> KeyRecord:
        for record in self.records():
            if record.kid == kid:
                return record
        raise KeyStoreError(f"unknown key id {kid!r}")

    def private_key(self, kid: str) -> PrivateKey:
        self.get(kid)  # refuse kids that are not in the index
        path = self._key_path(kid)
        try:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except FileNotFoundError as exc:
            raise KeyStoreError(f"key file missing for {kid}: {path}") from exc
        if not isinstance(loaded, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise KeyStoreError(f"{path}: unsupported key type")
        return loaded

    def public_key(self, kid: str) -> PublicKey:
        return self.private_key(kid).public_key()

    def public_jwks(
        self, kind: KeyKind = KeyKind.RSA, now: datetime | None = None
    ) -> dict[str, Any]:
        """The JWKS of every published key of a kind (public parts only)."""
        keys = []
        for record in self.published(kind, now):
            public = self.public_key(record.kid)
            if isinstance(public, rsa.RSAPublicKey):
                jwk = RSAKey.import_key(public).as_dict(private=False)
                jwk.update({"alg": "RS256", "use": "sig"})
            else:
                jwk = OKPKey.import_key(public).as_dict(private=False)
                jwk.update({"alg": "EdDSA", "use": "sig"})
            jwk["kid"] = record.kid
            keys.append(jwk)
        return {"keys": keys}

    # -- writing -----------------------------------------------------------
    def ensure(self, kind: KeyKind) -> KeyRecord:
        """The active key of a kind, created first if there is none."""
        with self._locked():
            records = self._read_index()
            for record in reversed(records):
                if record.kind is kind and record.status is KeyStatus.ACTIVE:
                    return record
            record = self._create(kind)
            self._write_index([*records, record])
            return record

    def rotate(self, kind: KeyKind, grace: timedelta | None = None) -> KeyRecord:
        """Make a new active key; the old one keeps being published.

        With ``grace`` the old key stops being published after it (LTI keys:
        platforms cache our JWKS for a while). Without it the old key stays
        published until retired by hand (credential keys: old credentials must
        keep verifying).
        """
        with self._locked():
            now = _now()
            records = [
                replace(
                    r,
                    status=KeyStatus.RETIRING,
                    publish_until=(now + grace) if grace is not None else None,
                )
                if r.kind is kind and r.status is KeyStatus.ACTIVE
                else r
                for r in self._read_index()
            ]
            record = self._create(kind)
            self._write_index([*records, record])
            return record

    def retire(self, kid: str) -> KeyRecord:
        with self._locked():
            records = self._read_index()
            target = next((r for r in records if r.kid == kid), None)
            if target is None:
                raise KeyStoreError(f"unknown key id {kid!r}")
            if target.status is KeyStatus.ACTIVE:
                raise KeyStoreError(f"{kid} is the active key; rotate first")
            retired = replace(target, status=KeyStatus.RETIRED)
            self._write_index([retired if r.kid == kid else r for r in records])
            return retired

    # -- internals -----------------------------------------------------------
    def _create(self, kind: KeyKind) -> KeyRecord:
        key: PrivateKey
        if kind.is_rsa:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            key = ed25519.Ed25519PrivateKey.generate()
        kid = _thumbprint(key)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # O_EXCL + mode 0600 at creation: the file is never readable by others,
        # not even for an instant between create and chmod.
        fd = os.open(self._key_path(kid), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return KeyRecord(kid=kid, kind=kind, status=KeyStatus.ACTIVE, created_at=_now())

    def _key_path(self, kid: str) -> Path:
        if not _KID_RE.match(kid):
            raise KeyStoreError(f"malformed key id {kid!r}")
        return self.directory / f"{kid}.pem"

    def _read_index(self) -> list[KeyRecord]:
        path = self.directory / "index.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"{path}: unreadable key index ({exc})") from exc
        return [KeyRecord.from_json(item) for item in raw.get("keys", [])]

    def _write_index(self, records: list[KeyRecord]) -> None:
        path = self.directory / "index.json"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"keys": [r.to_json() for r in records]}, handle, indent=2)
        os.replace(tmp, path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
