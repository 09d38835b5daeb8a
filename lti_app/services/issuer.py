"""Who issues our credentials, with which key, and where everything about them lives.

Services never import Flask, yet awarding needs the app's settings (base URL, key store, DID
method). The settings travel with the database instead: ``create_app`` calls :func:`bind`, which
puts an :class:`IssuerContext` into the ``info`` of every session the app's ``Database`` makes,
and :func:`context` reads it back. So the sign-off service keeps its signature, each app (tests
build many, side by side) carries its own settings, and a script without an app binds its own.

Issuer identity (``SKILLSIGN_ISSUER_DID``):

* ``web``: ``did:web`` of the base URL's host (and path); its DID document lists every Ed25519
  key that is not retired, so credentials signed before a rotation keep verifying.
* ``key``: ``did:key`` of the active key. A did:key *is* its key, so after a rotation new
  credentials carry a new issuer id; old ones still verify offline from their own id, and their
  status lists stay signed by the key (and so the issuer) they name (see status_list_url).
"""

from __future__ import annotations

import hashlib
import io
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from PIL import Image
from sqlalchemy.orm import Session

from credentials import did
from keys import KeyKind, KeyStore, KeyStoreError
from lti_app.db import Database
from lti_app.db.models import IssuerProfile
from lti_app.services.errors import NotFound

INFO_KEY = "skillsign.issuer"
DidMethod = Literal["web", "key"]
JwtAlgorithm = Literal["RS256", "EdDSA"]
JWT_ALGORITHMS: tuple[JwtAlgorithm, ...] = ("RS256", "EdDSA")
STATUS_PATH = "/credentials/status"


@dataclass(frozen=True)
class Signer:
    """One Ed25519 key as the issuer uses it."""

    kid: str
    private_key: Ed25519PrivateKey
    issuer_did: str
    verification_method: str


@dataclass(frozen=True)
class JwtSigner:
    """The key that signs VC-JWTs: ``kid`` (the JOSE header's) is its verification method,
    a DID URL of the issuer that dereferences to the key in the DID document."""

    algorithm: JwtAlgorithm
    private_key: Ed25519PrivateKey | RSAPrivateKey
    kid: str


# Key files never change once written (the kid is the key's thumbprint), so a loaded key can be
# kept for the life of the process: signing then costs no file read.
_KEY_CACHE: dict[tuple[str, str], Ed25519PrivateKey | RSAPrivateKey] = {}
_KEY_LOCK = threading.Lock()


@dataclass(frozen=True)
class IssuerContext:
    base_url: str
    did_method: DidMethod
    keys_dir: str
    name: str
    email: str
    # RS256 by default: OB 3.0 section 8.2 makes it the one algorithm every verifier has,
    # and says any other "limits interoperability". A did:key issuer can only sign EdDSA.
    vc_jwt_alg: JwtAlgorithm = "RS256"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> IssuerContext:
        base_url = str(settings["BASE_URL"]).rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"BASE_URL must be an absolute http(s) URL, got {base_url!r}")
        method = str(settings.get("ISSUER_DID") or "key")
        if method not in ("web", "key"):
            raise ValueError(f"ISSUER_DID must be 'web' or 'key', got {method!r}")
        host = parts.hostname
        algorithm = str(settings.get("VC_JWT_ALG") or "RS256")
        if algorithm not in JWT_ALGORITHMS:
            raise ValueError(f"VC_JWT_ALG must be RS256 or EdDSA, got {algorithm!r}")
        return cls(
            base_url=base_url,
            did_method=method,  # type: ignore[arg-type]  # checked just above
            keys_dir=str(settings["KEYS_DIR"]),
            name=str(settings.get("ISSUER_NAME") or host),
            email=str(settings.get("ISSUER_EMAIL") or f"credentials@{host}"),
            vc_jwt_alg=algorithm,  # narrowed by the JWT_ALGORITHMS check above
        )

    # -- identity and keys ------------------------------------------------------------
    @cached_property
    def keys(self) -> KeyStore:
        return KeyStore(self.keys_dir)

    @cached_property
    def web_did(self) -> str:
        """``did:web`` of the base URL: host, port and path (``did:web:x.edu%3A8443:tool``)."""
        parts = urlsplit(self.base_url)
        return did.did_web(parts.netloc + parts.path)

    def _cached_key(self, kid: str) -> Ed25519PrivateKey | RSAPrivateKey:
        cache_key = (self.keys_dir, kid)
        key = _KEY_CACHE.get(cache_key)
        if key is None:
            loaded = self.keys.private_key(kid)
            with _KEY_LOCK:
                key = _KEY_CACHE.setdefault(cache_key, loaded)
        return key

    def _private_key(self, kid: str) -> Ed25519PrivateKey:
        key = self._cached_key(kid)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyStoreError(f"{kid} is not an Ed25519 key")
        return key

    def _rsa_key(self, kid: str) -> RSAPrivateKey:
        key = self._cached_key(kid)
        if not isinstance(key, RSAPrivateKey):
            raise KeyStoreError(f"{kid} is not an RSA key")
        return key

    def _signer(self, kid: str, method: DidMethod) -> Signer:
        key = self._private_key(kid)
        if method == "web":
            return Signer(kid, key, self.web_did, f"{self.web_did}#{kid}")
        public = key.public_key()
        return Signer(kid, key, did.did_key(public), did.did_key_verification_method(public))

    def signer(self) -> Signer:
        """The active credential key; made on first use where none exists yet (dev, tests).
        Production runs ``skillsign keys ensure`` once, so a read-only key store is fine."""
        try:
            record = self.keys.active(KeyKind.ED25519)
        except KeyStoreError:
            record = self.keys.ensure(KeyKind.ED25519)
        return self._signer(record.kid, self.did_method)

    def jwt_signer(self, signer: Signer | None = None) -> JwtSigner:
        """Who signs VC-JWTs: the RSA credential key (RS256) under our did:web, listed in the
        DID document as a JWK; the Ed25519 key (EdDSA) when so configured, or when the issuer
        is a did:key, whose document holds its one Ed25519 key and nothing else."""
        ed = signer or self.signer()
        if self.vc_jwt_alg == "EdDSA" or not ed.issuer_did.startswith("did:web:"):
            return JwtSigner("EdDSA", ed.private_key, ed.verification_method)
        try:
            record = self.keys.active(KeyKind.RSA_CREDENTIAL)
        except KeyStoreError:
            record = self.keys.ensure(KeyKind.RSA_CREDENTIAL)
        return JwtSigner("RS256", self._rsa_key(record.kid), f"{ed.issuer_did}#{record.kid}")

    def signer_for(self, kid: str, method: DidMethod) -> Signer:
        """A published (active or rotated, not retired) Ed25519 key; NotFound otherwise."""
        published = {r.kid for r in self.keys.published(KeyKind.ED25519)}
        if kid not in published:
            raise NotFound(f"no published credential key {kid!r}")
        return self._signer(kid, method)

    def did_document(self) -> dict[str, Any]:
        """The did:web document: every Ed25519 key that is not retired, newest last, then
        every RSA credential key (VC-JWT, RS256) that is not retired, as a JWK."""
        self.signer()  # there is always at least the active key
        if self.did_method == "web" and self.vc_jwt_alg == "RS256":
            self.jwt_signer()  # and an RSA key to name in VC-JWT headers
        records = self.keys.published(KeyKind.ED25519)
        rsa_records = self.keys.published(KeyKind.RSA_CREDENTIAL)
        return did.did_web_document(
            self.web_did,
            [(r.kid, self._private_key(r.kid).public_key()) for r in records],
            [(r.kid, self._rsa_key(r.kid).public_key()) for r in rsa_records],
        )

    def issuer_ids(self) -> set[str]:
        """Every issuer id this tool has signed as and still answers for."""
        ids = {self.web_did}
        for record in self.keys.published(KeyKind.ED25519):
            ids.add(did.did_key(self._private_key(record.kid).public_key()))
        return ids

    # -- public URLs (the views route exactly these paths) -------------------------------
    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def credential_url(self, credential_id: uuid.UUID | str) -> str:
        return self.url(f"/credentials/{credential_id}")

    def achievement_url(self, level_id: uuid.UUID | str) -> str:
        return self.url(f"/achievements/{level_id}")

    def badge_image_url(self, level_id: uuid.UUID | str, fmt: str = "png") -> str:
        return self.url(f"/achievements/{level_id}/badge.{fmt}")

    def issuer_profile_url(self) -> str:
        return self.url("/issuer")

    def status_list_url(self, list_id: int, signer: Signer) -> str:
        """A did:key list URL names the key: the list must be signed by the issuer of the
        credentials that point at it, and with did:key that issuer is one particular key."""
        if signer.issuer_did.startswith("did:key:"):
            return self.url(f"{STATUS_PATH}/{list_id}/{signer.kid}")
        return self.url(f"{STATUS_PATH}/{list_id}")

    def parse_status_list_url(self, url: str) -> tuple[int, str | None] | None:
        """(list id, kid or None) if ``url`` is one of our status lists, else None."""
        prefix = self.url(STATUS_PATH) + "/"
        if not url.startswith(prefix):
            return None
        parts = url[len(prefix) :].split("/")
        if not parts[0].isdigit() or not parts[0].isascii() or len(parts) > 2:
            return None
        kid = parts[1] if len(parts) == 2 else None
        if kid is not None and not kid:
            return None
        return int(parts[0]), kid

    def ob2_issuer_url(self) -> str:
        return self.url("/ob2/issuer")

    def ob2_badge_url(self, level_id: uuid.UUID | str) -> str:
        return self.url(f"/ob2/badges/{level_id}")

    def ob2_assertion_url(self, credential_id: uuid.UUID | str) -> str:
        return self.url(f"/ob2/assertions/{credential_id}")

    def is_ours(self, url: str) -> bool:
        return url == self.base_url or url.startswith(self.base_url + "/")


# --------------------------------------------------------------------------- the institution

IMAGE_PATH = "/issuer/image.png"
IMAGE_LIMIT = 512 * 1024  # bytes
IMAGE_MAX_SIDE = 2048  # pixels
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Institution:
    """Who issues, as credentials and pages name it: the stored profile a tool administrator
    edits, or the settings (``SKILLSIGN_ISSUER_NAME``/``EMAIL``) until one is saved."""

    name: str
    url: str | None
    email: str
    description: str | None
    image_sha256: str | None
    stored: bool

    def image_url(self, issuer: IssuerContext) -> str | None:
        return issuer.url(IMAGE_PATH) if self.image_sha256 else None


def institution(session: Session, issuer: IssuerContext | None = None) -> Institution:
    settings = issuer or context(session)
    row = session.get(IssuerProfile, 1)
    if row is None:
        return Institution(settings.name, None, settings.email, None, None, stored=False)
    return Institution(row.name, row.url, row.email, row.description, row.image_sha256, stored=True)


def institution_image(session: Session) -> bytes | None:
    row = session.get(IssuerProfile, 1)
    return row.image if row is not None and row.image else None


def png_problem(data: bytes) -> Literal["size", "type", "dimensions"] | None:
    """Why ``data`` cannot be the institution's logo, or None: a PNG (checked by its
    signature and by decoding it, never by its name), at most IMAGE_LIMIT bytes and
    IMAGE_MAX_SIDE pixels a side. SVG is refused: it can carry script."""
    if len(data) > IMAGE_LIMIT:
        return "size"
    if not data.startswith(PNG_SIGNATURE):
        return "type"
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                return "type"
            width, height = image.size
            if width > IMAGE_MAX_SIDE or height > IMAGE_MAX_SIDE:
                return "dimensions"
            image.verify()
    except (OSError, ValueError, Image.DecompressionBombError):
        return "type"
    return None


def save_institution(
    session: Session,
    *,
    name: str,
    url: str | None,
    email: str,
    description: str | None,
    image: bytes | None,
    remove_image: bool,
    actor_id: int | None,
) -> IssuerProfile:
    """Store the institution's profile (checked by the caller; ``image`` a checked PNG, None
    to keep the current one). Credentials issued from now on carry it."""
    row = session.get(IssuerProfile, 1)
    if row is None:
        row = IssuerProfile(id=1)
        session.add(row)
    row.name, row.url, row.email, row.description = name, url, email, description
    if image is not None:
        row.image, row.image_sha256 = image, hashlib.sha256(image).hexdigest()
    elif remove_image:
        row.image, row.image_sha256 = None, None
    row.updated_by = actor_id
    session.flush()
    return row


def bind(database: Database, issuer: IssuerContext) -> None:
    """Make ``issuer`` the context of every session ``database`` opens from now on."""
    info = dict(database.sessionmaker.kw.get("info") or {})
    info[INFO_KEY] = issuer
    database.sessionmaker.configure(info=info)


def context(session: Session) -> IssuerContext:
    found = session.info.get(INFO_KEY)
    if not isinstance(found, IssuerContext):
        raise RuntimeError(
            "no credential issuer is configured for this database session: create_app binds "
            "one; a script without an app calls lti_app.services.issuer.bind(database, "
            "IssuerContext.from_settings(settings))"
        )
    return found
