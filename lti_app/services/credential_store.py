"""Issued credentials as the outside world sees them: look-ups, downloads (JSON, VC-JWT, baked
PNG and SVG), badge images, and the Open Badges 2.0 hosted objects."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from credentials import baking, ob2, ob3
from credentials import status_list as bitstring
from credentials.jsonld import OB_V3_CONTEXT, VC_V2_CONTEXT
from lti_app.db.models import Credential, FrameworkLevel, FrameworkVersion, StatusList, User
from lti_app.services import awarding, badges
from lti_app.services import issuer as issuer_service
from lti_app.services.errors import NotFound
from lti_app.services.issuer import IssuerContext

ExportFormat = Literal["json", "jwt", "png", "svg"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("json", "jwt", "png", "svg")
MEDIA_TYPES = {
    "json": "application/ld+json",
    "jwt": "application/jwt",
    "png": "image/png",
    "svg": "image/svg+xml",
}


def parse_id(value: str | uuid.UUID) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        raise NotFound(f"{value!r} is not a credential id (a UUID)") from None


def get(session: Session, credential_id: str | uuid.UUID) -> Credential:
    row = session.get(Credential, parse_id(credential_id))
    if row is None:
        raise NotFound(f"no credential {credential_id}")
    return row


def get_with_status(session: Session, credential_id: str | uuid.UUID) -> tuple[Credential, bool]:
    """The credential and whether its status bit is set, read in one query: what a cached
    verification of it is keyed on (see verification.verify_issued)."""
    row = session.execute(
        select(Credential, StatusList.bits)
        .join(StatusList, StatusList.id == Credential.status_list_id)
        .where(Credential.id == parse_id(credential_id))
    ).one_or_none()
    if row is None:
        raise NotFound(f"no credential {credential_id}")
    credential, bits = row
    return credential, bitstring.StatusList(bits=bits).get(credential.status_index)


def find(session: Session, ref: str) -> Credential:
    """By id, or by its public URL (``.../credentials/<id>``, with or without an extension)."""
    text = ref.strip().rstrip("/")
    tail = text.rsplit("/", 1)[-1]
    stem, _, ext = tail.partition(".")
    if ext and ext not in EXPORT_FORMATS:
        stem = tail
    return get(session, stem)


def list_credentials(
    session: Session, *, learner_id: int | None = None, limit: int | None = None
) -> list[Credential]:
    query = select(Credential).order_by(Credential.issued_at.desc(), Credential.id)
    if learner_id is not None:
        query = query.where(Credential.learner_id == learner_id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def level_of(session: Session, level_id: uuid.UUID | str) -> FrameworkLevel:
    try:
        key = level_id if isinstance(level_id, uuid.UUID) else uuid.UUID(str(level_id))
    except ValueError:
        raise NotFound(f"{level_id!r} is not a level id") from None
    level = session.get(FrameworkLevel, key)
    if level is None:
        raise NotFound(f"no framework level {level_id}")
    return level


# --------------------------------------------------------------------------- images


def badge(
    level: FrameworkLevel, fmt: Literal["svg", "png"], state: badges.State = "valid"
) -> bytes:
    """The level's badge; for a revoked or expired credential, marked REVOKED or EXPIRED."""
    version = level.framework_version
    args = (version.title, level.label, level.position, len(version.levels), state)
    if fmt == "svg":
        return badges.badge_svg(*args).encode("utf-8")
    return badges.badge_png(*args)


def badge_state(credential: Credential) -> badges.State:
    state = awarding.credential_state(credential)
    return "revoked" if state == "revoked" else ("expired" if state == "expired" else "valid")


def credential_badge(session: Session, credential: Credential, fmt: Literal["svg", "png"]) -> bytes:
    """The badge as this credential stands now (no credential baked in): what its public page
    and link previews show."""
    level = session.get(FrameworkLevel, credential.level_id)
    assert level is not None  # a foreign key
    return badge(level, fmt, badge_state(credential))


# --------------------------------------------------------------------------- downloads


@dataclass(frozen=True)
class Download:
    body: bytes
    media_type: str
    filename: str


def document_json(credential: Credential) -> bytes:
    return json.dumps(credential.document, ensure_ascii=False, indent=2).encode("utf-8")


def export(session: Session, credential: Credential, fmt: str) -> Download:
    """The credential as a file; images are the level's badge with the signed JSON baked in,
    marked REVOKED or EXPIRED when the credential no longer stands (the JSON and VC-JWT stay
    as signed: an auditor needs the document itself)."""
    if fmt not in EXPORT_FORMATS:
        raise NotFound(f"unknown format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    name = f"credential-{credential.id}.{fmt}"
    if fmt == "json":
        return Download(document_json(credential), MEDIA_TYPES["json"], name)
    if fmt == "jwt":
        if not credential.jwt:
            raise NotFound(
                "this credential has no VC-JWT: one is made when the learner has given a "
                "wallet DID before the credential was issued"
            )
        return Download(credential.jwt.encode("ascii"), MEDIA_TYPES["jwt"], name)
    level = session.get(FrameworkLevel, credential.level_id)
    assert level is not None  # a foreign key
    payload = json.dumps(credential.document, ensure_ascii=False, separators=(",", ":"))
    state = badge_state(credential)
    if fmt == "png":
        image = baking.bake_png(badge(level, "png", state), payload)
        return Download(image, MEDIA_TYPES["png"], name)
    return Download(baking.bake_svg(badge(level, "svg", state), payload), MEDIA_TYPES["svg"], name)


# --------------------------------------------------------------------------- JSON-LD objects


def achievement_json(issuer: IssuerContext, level: FrameworkLevel) -> dict[str, Any]:
    """The level's Achievement as a standalone JSON-LD document (its id dereferences here)."""
    achievement = awarding.achievement_for(issuer, level.framework_version, level).to_json()
    return {"@context": [VC_V2_CONTEXT, OB_V3_CONTEXT], **achievement}


def issuer_profile_json(
    issuer: IssuerContext, institution: issuer_service.Institution | None = None
) -> dict[str, Any]:
    profile = awarding.issuer_profile(issuer, issuer.web_did, institution).to_json()
    # Every DID we sign as (did:web, and the did:key of each published key), so a verifier
    # holding a credential can tie either form back to this profile.
    others = sorted(issuer.issuer_ids() - {issuer.web_did})
    if others:
        profile["otherIdentifier"] = [
            {"type": "IdentifierEntry", "identifier": did, "identifierType": "identifier"}
            for did in others
        ]
    return {"@context": [VC_V2_CONTEXT, OB_V3_CONTEXT], **profile}


def _issuer_for_ob2(
    issuer: IssuerContext, institution: issuer_service.Institution | None = None
) -> ob3.Issuer:
    if institution is None:
        return ob3.Issuer(
            id=issuer.ob2_issuer_url(), name=issuer.name, url=issuer.base_url, email=issuer.email
        )
    return ob3.Issuer(
        id=issuer.ob2_issuer_url(),
        name=institution.name,
        url=institution.url or issuer.base_url,
        email=institution.email,
        description=institution.description,
        image=institution.image_url(issuer),
    )


def ob2_issuer(
    issuer: IssuerContext, institution: issuer_service.Institution | None = None
) -> dict[str, Any]:
    return ob2.issuer_profile(
        _issuer_for_ob2(issuer, institution), issuer_url=issuer.ob2_issuer_url()
    )


def ob2_badge_class(issuer: IssuerContext, level: FrameworkLevel) -> dict[str, Any]:
    achievement = awarding.achievement_for(issuer, level.framework_version, level)
    return ob2.badge_class(
        achievement,
        badge_class_url=issuer.ob2_badge_url(level.id),
        issuer_url=issuer.ob2_issuer_url(),
        image_url=issuer.badge_image_url(level.id, "png"),
    )


def _evidence(document: Mapping[str, Any]) -> list[ob3.EvidenceItem]:
    items = []
    for entry in document.get("evidence") or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            items.append(
                ob3.EvidenceItem(
                    name=entry["name"],
                    narrative=entry.get("narrative"),
                    description=entry.get("description"),
                    genre=entry.get("genre"),
                )
            )
    return items


def ob2_email_recipient(document: dict[str, Any]) -> dict[str, Any] | None:
    """The credential's hashed email IdentityObject, or None: the one recipient an OB 2.0
    hosted Assertion can carry that 1EdTech's OB 2.0 validator accepts. A credential that
    names its learner only by a DID (a wallet-bound learner or a wallet copy) or a
    pseudonymous urn:uuid has none: OB 2.0 recipients are an email, a URL or a telephone
    number, and neither a DID nor a URN is one."""
    subject = document.get("credentialSubject") or {}
    if not isinstance(subject, dict):
        return None
    for entry in subject.get("identifier") or []:
        if (
            isinstance(entry, dict)
            and entry.get("identityType") == "emailAddress"
            and isinstance(entry.get("identityHash"), str)
        ):
            return entry
    return None


def ob2_assertion(issuer: IssuerContext, credential: Credential) -> dict[str, Any] | None:
    """The OB 2.0 hosted Assertion of a credential, its recipient the OB 3.0 credential's
    salted email hash (nothing is re-hashed); None when the credential has no email identity
    (see :func:`ob2_email_recipient`): no OB 2.0 assertion rather than one no validator
    accepts."""
    document = credential.document
    hashed_email = ob2_email_recipient(document)
    if hashed_email is None:
        return None
    assertion = ob2.assertion(
        assertion_url=issuer.ob2_assertion_url(credential.id),
        badge_class_url=issuer.ob2_badge_url(credential.level_id),
        subject=ob3.Subject(id=issuer.credential_url(credential.id)),
        issued_on=credential.issued_at,
        expires=credential.valid_until,
        evidence=_evidence(document),
        image_url=issuer.badge_image_url(credential.level_id, "png"),
        revoked=credential.revoked_at is not None,
        revocation_reason=credential.revocation_reason,
    )
    if "recipient" in assertion:
        assertion["recipient"] = {
            "type": "email",
            "hashed": True,
            "salt": hashed_email.get("salt", ""),
            "identity": hashed_email["identityHash"],
        }
    return assertion


# --------------------------------------------------------------------------- the public page


def learner_display_name(session: Session, credential: Credential) -> str | None:
    """The learner's name, only while the learner allows it (checked now, not at issuance)."""
    learner = session.get(User, credential.learner_id)
    if learner is None or not learner.show_name_on_credentials:
        return None
    return learner.name or None


def version_of(session: Session, credential: Credential) -> FrameworkVersion:
    version = session.get(FrameworkVersion, credential.framework_version_id)
    assert version is not None  # a foreign key
    return version
