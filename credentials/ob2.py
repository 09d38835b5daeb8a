"""Open Badges 2.0 hosted objects (Issuer, BadgeClass, Assertion) from the same plain inputs as
the OB 3.0 credential: a cheap compatibility layer for LMSs and backpacks that still read 2.0.

"Hosted" verification: each object is served as JSON at its own ``id`` URL (the caller decides
the URLs); a revoked Assertion is served with ``revoked: true`` (and HTTP 410 by the app).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .errors import CredentialShapeError
from .fields import require_iri, require_text
from .ob3 import (
    AchievementInput,
    EvidenceItem,
    Issuer,
    Subject,
    hash_identity,
    normalize_email,
)
from .timefmt import format_datetime

OB2_CONTEXT = "https://w3id.org/openbadges/v2"


def _http_url(value: object, path: str) -> str:
    url = require_iri(value, path)
    if not url.startswith(("https://", "http://")):
        raise CredentialShapeError(
            f"OB 2.0 hosted objects need an http(s) URL, got {url!r}", path=path
        )
    return url


def issuer_profile(issuer: Issuer, *, issuer_url: str) -> dict[str, Any]:
    """OB 2.0 Issuer Profile served at ``issuer_url`` (2.0 requires name, url and email)."""
    if issuer.url is None:
        raise CredentialShapeError("an OB 2.0 issuer needs a url", path="issuer.url")
    if issuer.email is None:
        raise CredentialShapeError("an OB 2.0 issuer needs an email", path="issuer.email")
    profile: dict[str, Any] = {
        "@context": OB2_CONTEXT,
        "type": "Issuer",
        "id": _http_url(issuer_url, "issuer_url"),
        "name": require_text(issuer.name, "issuer.name"),
        "url": require_iri(issuer.url, "issuer.url"),
        "email": issuer.email,
    }
    if issuer.description:
        profile["description"] = issuer.description
    if issuer.image:
        profile["image"] = require_iri(issuer.image, "issuer.image")
    return profile


def badge_class(
    achievement: AchievementInput,
    *,
    badge_class_url: str,
    issuer_url: str,
    image_url: str | None = None,
) -> dict[str, Any]:
    """OB 2.0 BadgeClass served at ``badge_class_url``; 2.0 requires an image."""
    image = image_url or achievement.image
    if image is None:
        raise CredentialShapeError("an OB 2.0 BadgeClass needs an image", path="image")
    badge: dict[str, Any] = {
        "@context": OB2_CONTEXT,
        "type": "BadgeClass",
        "id": _http_url(badge_class_url, "badge_class_url"),
        "name": require_text(achievement.name, "name"),
        "description": require_text(achievement.description, "description"),
        "image": require_iri(image, "image"),
        "criteria": {"narrative": require_text(achievement.criteria_narrative, "criteria")},
        "issuer": _http_url(issuer_url, "issuer_url"),
    }
    if achievement.alignments:
        alignments = []
        for i, alignment in enumerate(achievement.alignments):
            item = {
                "targetName": require_text(alignment.target_name, f"alignment[{i}].targetName"),
                "targetUrl": require_iri(alignment.target_url, f"alignment[{i}].targetUrl"),
            }
            for key, value in (
                ("targetDescription", alignment.target_description),
                ("targetFramework", alignment.target_framework),
                ("targetCode", alignment.target_code),
            ):
                if value:
                    item[key] = value
            alignments.append(item)
        badge["alignment"] = alignments
    if achievement.tags:
        badge["tags"] = list(achievement.tags)
    return badge


def _recipient(subject: Subject) -> dict[str, Any]:
    if subject.identifier_email is not None:
        salt = subject.salt if subject.salt is not None else secrets.token_hex(16)
        return {
            "type": "email",
            "hashed": True,
            "salt": salt,
            "identity": hash_identity(normalize_email(subject.identifier_email), salt),
        }
    if subject.id is not None:
        return {"type": "url", "hashed": False, "identity": require_iri(subject.id, "recipient")}
    raise CredentialShapeError("the recipient needs an email or an id", path="recipient")


def assertion(
    *,
    assertion_url: str,
    badge_class_url: str,
    subject: Subject,
    issued_on: datetime | str,
    expires: datetime | str | None = None,
    evidence: Sequence[EvidenceItem] = (),
    image_url: str | None = None,
    revoked: bool = False,
    revocation_reason: str | None = None,
) -> dict[str, Any]:
    """OB 2.0 hosted Assertion served at ``assertion_url``. A revoked one is stripped to the
    properties 2.0 requires of it (id, revoked, reason)."""
    url = _http_url(assertion_url, "assertion_url")
    if revoked:
        stripped: dict[str, Any] = {
            "@context": OB2_CONTEXT,
            "type": "Assertion",
            "id": url,
            "revoked": True,
        }
        if revocation_reason:
            stripped["revocationReason"] = revocation_reason
        return stripped
    document: dict[str, Any] = {
        "@context": OB2_CONTEXT,
        "type": "Assertion",
        "id": url,
        "recipient": _recipient(subject),
        "badge": _http_url(badge_class_url, "badge_class_url"),
        "verification": {"type": "hosted"},
        "issuedOn": format_datetime(issued_on, field="issuedOn"),
    }
    if expires is not None:
        document["expires"] = format_datetime(expires, field="expires")
    if image_url is not None:
        document["image"] = require_iri(image_url, "image")
    if evidence:
        items = []
        for i, item in enumerate(evidence):
            entry: dict[str, Any] = {"type": "Evidence"}
            if item.id:
                entry["id"] = require_iri(item.id, f"evidence[{i}].id")
            entry["name"] = require_text(item.name, f"evidence[{i}].name")
            for key in ("narrative", "description", "genre", "audience"):
                value = getattr(item, key)
                if value:
                    entry[key] = value
            items.append(entry)
        document["evidence"] = items
    return document
