"""Build an Open Badges 3.0 ``OpenBadgeCredential`` (a W3C VC 2.0) from plain inputs.

The services map a framework level onto :class:`AchievementInput` (one Achievement per level,
one CFItem alignment per statement), so this module knows nothing about frameworks.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from .errors import CredentialShapeError
from .fields import EMAIL, require_iri, require_text
from .jsonld import OB_V3_CONTEXT, VC_V2_CONTEXT
from .status_list import StatusEntry
from .timefmt import format_datetime, parse_datetime

CREDENTIAL_TYPES = ("VerifiableCredential", "OpenBadgeCredential")


def _optional(
    target: dict[str, Any], key: str, value: str | None, path: str, *, iri: bool = False
) -> None:
    if value is None:
        return
    target[key] = require_iri(value, path) if iri else require_text(value, path)


def _image(url: str | None, path: str) -> dict[str, Any] | None:
    if url is None:
        return None
    return {"id": require_iri(url, path), "type": "Image"}


@dataclass(frozen=True)
class Issuer:
    """The issuing organisation (an OB ``Profile``). ``id`` is its DID (did:web or did:key)."""

    id: str
    name: str
    url: str | None = None
    email: str | None = None
    image: str | None = None
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "id": require_iri(self.id, "issuer.id"),
            "type": ["Profile"],
            "name": require_text(self.name, "issuer.name"),
        }
        _optional(profile, "url", self.url, "issuer.url", iri=True)
        if self.email is not None:
            if not EMAIL.match(self.email):
                raise CredentialShapeError(
                    f"not an email address: {self.email!r}", path="issuer.email"
                )
            profile["email"] = self.email
        _optional(profile, "description", self.description, "issuer.description")
        image = _image(self.image, "issuer.image")
        if image:
            profile["image"] = image
        return profile


@dataclass(frozen=True)
class Alignment:
    """One competency statement the achievement aligns to (a CASE ``CFItem``)."""

    target_name: str
    target_url: str
    target_description: str | None = None
    target_code: str | None = None
    target_framework: str | None = None
    target_type: str = "CFItem"

    def to_json(self, path: str) -> dict[str, Any]:
        alignment: dict[str, Any] = {
            "type": ["Alignment"],
            "targetName": require_text(self.target_name, f"{path}.targetName"),
            "targetUrl": require_iri(self.target_url, f"{path}.targetUrl"),
            "targetType": require_text(self.target_type, f"{path}.targetType"),
        }
        _optional(
            alignment, "targetDescription", self.target_description, f"{path}.targetDescription"
        )
        _optional(alignment, "targetCode", self.target_code, f"{path}.targetCode")
        _optional(alignment, "targetFramework", self.target_framework, f"{path}.targetFramework")
        return alignment


@dataclass(frozen=True)
class AchievementInput:
    """What was achieved: one framework level."""

    id: str
    name: str
    description: str
    criteria_narrative: str
    alignments: Sequence[Alignment] = ()
    image: str | None = None
    achievement_type: str = "Competency"
    tags: Sequence[str] = ()

    def result_description_id(self) -> str:
        if "#" not in self.id:
            return f"{self.id}#completion"
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{self.id}/completion").urn

    def to_json(self) -> dict[str, Any]:
        path = "credentialSubject.achievement"
        achievement: dict[str, Any] = {
            "id": require_iri(self.id, f"{path}.id"),
            "type": ["Achievement"],
            "achievementType": require_text(self.achievement_type, f"{path}.achievementType"),
            "name": require_text(self.name, f"{path}.name"),
            "description": require_text(self.description, f"{path}.description"),
            "criteria": {
                "narrative": require_text(self.criteria_narrative, f"{path}.criteria.narrative")
            },
        }
        image = _image(self.image, f"{path}.image")
        if image:
            achievement["image"] = image
        if self.alignments:
            achievement["alignment"] = [
                a.to_json(f"{path}.alignment[{i}]") for i, a in enumerate(self.alignments)
            ]
        if self.tags:
            achievement["tag"] = [
                require_text(t, f"{path}.tag[{i}]") for i, t in enumerate(self.tags)
            ]
        # The Result in the subject points here; resultType Status makes "Completed" meaningful.
        achievement["resultDescription"] = [
            {
                "id": self.result_description_id(),
                "type": ["ResultDescription"],
                "name": "Completion",
                "resultType": "Status",
            }
        ]
        return achievement


def hash_identity(value: str, salt: str) -> str:
    """OB ``identityHash``: ``sha256$`` + hex(sha256(value + salt)), as the spec defines it."""
    return "sha256$" + hashlib.sha256((value + salt).encode("utf-8")).hexdigest()


def normalize_email(email: str) -> str:
    """Emails are hashed trimmed and lower-cased, so a verifier typing the address the way the
    learner knows it gets the same hash."""
    return email.strip().lower()


def identity_matches(identity_object: Mapping[str, Any], value: str) -> bool:
    """Does a (possibly hashed) IdentityObject name ``value``? Emails are normalized first."""
    if identity_object.get("identityType") == "emailAddress":
        value = normalize_email(value)
    expected = identity_object.get("identityHash")
    if not isinstance(expected, str):
        return False
    if identity_object.get("hashed"):
        salt = identity_object.get("salt") or ""
        return hmac.compare_digest(hash_identity(value, salt), expected.lower())
    return hmac.compare_digest(value, expected)


EmailAnswer = Literal["matches", "does_not_match", "no_email_identity"]


def email_identity_answer(credential: Mapping[str, Any] | None, email: str) -> EmailAnswer:
    """Does the credential belong to ``email``? Compared against the subject's
    ``identifier`` IdentityObjects of ``identityType`` ``emailAddress`` (hashed or not), so
    a verifier can check an address it already knows without the credential revealing one.
    ``no_email_identity`` when the credential names its subject no other way (a DID only)."""
    subjects: object = (credential or {}).get("credentialSubject")
    listed = subjects if isinstance(subjects, list) else [subjects]
    identities: list[Mapping[str, Any]] = []
    for subject in listed:
        found = subject.get("identifier") if isinstance(subject, Mapping) else None
        for identity in found if isinstance(found, list) else []:
            if isinstance(identity, Mapping) and identity.get("identityType") == "emailAddress":
                identities.append(identity)
    if not identities:
        return "no_email_identity"
    if any(identity_matches(identity, email) for identity in identities):
        return "matches"
    return "does_not_match"


@dataclass(frozen=True)
class Subject:
    """The learner: a wallet DID as ``id`` when known; otherwise a salted, hashed email.

    ``name``, when given, is added as an unhashed ``name`` identifier (OB's own pattern); leave
    it out where the learner's name should not travel with the credential.
    """

    id: str | None = None
    identifier_email: str | None = None
    salt: str | None = None
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        path = "credentialSubject"
        if self.id is None and self.identifier_email is None:
            raise CredentialShapeError("the subject needs an id (DID) or an email", path=path)
        subject: dict[str, Any] = {}
        if self.id is not None:
            subject["id"] = require_iri(self.id, f"{path}.id")
        subject["type"] = ["AchievementSubject"]
        identifiers = []
        if self.identifier_email is not None:
            email = normalize_email(self.identifier_email)
            if not EMAIL.match(email):
                raise CredentialShapeError(
                    f"not an email address: {self.identifier_email!r}", path=f"{path}.identifier"
                )
            salt = self.salt if self.salt is not None else secrets.token_hex(16)
            identifiers.append(
                {
                    "type": "IdentityObject",
                    "identityHash": hash_identity(email, salt),
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": salt,
                }
            )
        if self.name is not None:
            identifiers.append(
                {
                    "type": "IdentityObject",
                    "identityHash": require_text(self.name, f"{path}.name"),
                    "identityType": "name",
                    "hashed": False,
                }
            )
        if identifiers:
            subject["identifier"] = identifiers
        return subject


@dataclass(frozen=True)
class EvidenceItem:
    """A summary of how the achievement was shown (sign-offs: who and when, no private notes)."""

    name: str
    narrative: str | None = None
    description: str | None = None
    id: str | None = None
    genre: str | None = None
    audience: str | None = None

    def to_json(self, path: str) -> dict[str, Any]:
        evidence: dict[str, Any] = {}
        _optional(evidence, "id", self.id, f"{path}.id", iri=True)
        evidence["type"] = ["Evidence"]
        evidence["name"] = require_text(self.name, f"{path}.name")
        _optional(evidence, "narrative", self.narrative, f"{path}.narrative")
        _optional(evidence, "description", self.description, f"{path}.description")
        _optional(evidence, "genre", self.genre, f"{path}.genre")
        _optional(evidence, "audience", self.audience, f"{path}.audience")
        return evidence


def build_credential(
    *,
    credential_id: str,
    issuer: Issuer,
    achievement: AchievementInput,
    subject: Subject,
    valid_from: datetime | str,
    valid_until: datetime | str | None = None,
    status: StatusEntry | None = None,
    evidence: Sequence[EvidenceItem] = (),
    name: str | None = None,
) -> dict[str, Any]:
    """An unsigned OpenBadgeCredential; every term is defined by the VC 2.0 and OB 3.0.3
    contexts. Raises :class:`CredentialShapeError` naming the field when an input is invalid."""
    valid_from_text = format_datetime(valid_from, field="validFrom")
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT, OB_V3_CONTEXT],
        "id": require_iri(credential_id, "id"),
        "type": list(CREDENTIAL_TYPES),
        "name": require_text(name if name is not None else achievement.name, "name"),
        "issuer": issuer.to_json(),
        "validFrom": valid_from_text,
    }
    if valid_until is not None:
        valid_until_text = format_datetime(valid_until, field="validUntil")
        if parse_datetime(valid_until_text) <= parse_datetime(valid_from_text):
            raise CredentialShapeError("validUntil must be later than validFrom", path="validUntil")
        credential["validUntil"] = valid_until_text
    subject_json = subject.to_json()
    achievement_json = achievement.to_json()
    subject_json["achievement"] = achievement_json
    subject_json["result"] = [
        {
            "type": ["Result"],
            "resultDescription": achievement_json["resultDescription"][0]["id"],
            "status": "Completed",
        }
    ]
    credential["credentialSubject"] = subject_json
    if evidence:
        credential["evidence"] = [item.to_json(f"evidence[{i}]") for i, item in enumerate(evidence)]
    if status is not None:
        if not isinstance(status, StatusEntry):
            raise CredentialShapeError("status must be a StatusEntry", path="credentialStatus")
        credential["credentialStatus"] = status.to_json()
    return credential
