"""Awarding: a level's credential, issued once its statements are all met; revocation.

Issuance runs inside the sign-off's transaction (docs/architecture.md §2): the credential row, its
signature, its status-list bit, the notification in the outbox and the audit row are written
together or not at all. Exactly once per learner + level while a credential stands: the
``live_key`` column is unique, the sign-off service serialises each learner's sign-offs, and the
insert runs in a SAVEPOINT so that a duplicate that slips through anyway (another process,
another path) is taken as "already issued" instead of failing the sign-off.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credentials import bulk, ob3
from credentials import jwt as vc_jwt
from credentials.fields import EMAIL
from credentials.status_list import StatusEntry
from credentials.timefmt import now_utc
from frameworks import case_uri
from lti_app.db.models import (
    Credential,
    FrameworkLevel,
    FrameworkVersion,
    Membership,
    SignoffEvent,
    User,
)
from lti_app.lms import roles
from lti_app.services import audit, outbox, progress, status_lists
from lti_app.services import issuer as issuer_service
from lti_app.services.errors import AppError, Conflict, NotFound
from lti_app.services.issuer import IssuerContext

REASON_LIMIT = 4000
# DID syntax (W3C DID Core 3.1): did:<method>:<method-specific-id>, no path, query or fragment.
_DID = re.compile(
    r"^did:[a-z0-9]+:(?:(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})*:)*(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+$"
)
DID_LIMIT = 1024


class CredentialError(AppError):
    code = "credential.invalid"


def live_key(learner_id: int, level_id: uuid.UUID) -> str:
    return f"{learner_id}:{level_id}"


# --------------------------------------------------------------------------- mapping


def achievement_for(
    issuer: IssuerContext, version: FrameworkVersion, level: FrameworkLevel
) -> ob3.AchievementInput:
    """One Achievement per level (docs/architecture.md §5): criteria list the statements, one CFItem
    alignment per statement pointing at its CASE URI on this tool."""
    statements = list(level.statements)
    framework = f"{version.title} (version {version.version})"
    listed = "\n".join(f"{st.position}. {st.text}" for st in statements)
    return ob3.AchievementInput(
        id=issuer.achievement_url(level.id),
        name=f"{version.title} — {level.label}",
        description=(
            f"Every competency statement of the {level.label} level of {framework}, "
            "each signed off by an instructor."
        ),
        criteria_narrative=(
            f"An instructor observed and signed off each of these {len(statements)} "
            f"statements:\n\n{listed}"
        ),
        alignments=[
            ob3.Alignment(
                target_name=st.competency,
                target_url=case_uri(issuer.base_url, "CFItems", st.id),
                target_description=st.text,
                target_code=f"{level.key}.{st.position}",
                target_framework=framework,
            )
            for st in statements
        ],
        image=issuer.badge_image_url(level.id, "png"),
    )


def issuer_profile(
    issuer: IssuerContext,
    issuer_did: str | None = None,
    institution: issuer_service.Institution | None = None,
) -> ob3.Issuer:
    """The OB 3.0 Profile credentials carry: the institution's stored profile (name, URL,
    email, description, logo as an Image) when given, else the settings' name and email."""
    if institution is None:
        return ob3.Issuer(
            id=issuer_did or issuer.signer().issuer_did,
            name=issuer.name,
            url=issuer.issuer_profile_url(),
            email=issuer.email,
        )
    return ob3.Issuer(
        id=issuer_did or issuer.signer().issuer_did,
        name=institution.name,
        url=institution.url or issuer.issuer_profile_url(),
        email=institution.email,
        description=institution.description,
        image=institution.image_url(issuer),
    )


def subject_for(learner: User) -> ob3.Subject:
    """Wallet DID when the learner gave one; else a salted hash of the email; else (no email,
    e.g. Canvas's test student) a pseudonymous id that says nothing about the person."""
    name = learner.name if learner.show_name_on_credentials and learner.name else None
    if learner.wallet_did:
        return ob3.Subject(id=learner.wallet_did, name=name)
    if learner.email and EMAIL.match(learner.email.strip()):
        return ob3.Subject(identifier_email=learner.email, name=name)
    pseudonym = uuid.uuid5(
        uuid.NAMESPACE_URL, f"skillsign-learner\n{learner.issuer}\n{learner.sub}"
    )
    return ob3.Subject(id=pseudonym.urn, name=name)


INSTRUCTOR = "instructor"
TEACHING_ASSISTANT = "teaching assistant"
_TA_ROLES = frozenset({roles.TEACHING_ASSISTANT, roles.INSTRUCTOR_SUBROLE + "TeachingAssistant"})


@dataclass(frozen=True)
class _Signoff:
    """One met statement as the credential tells it: which, when, and in which role it was
    signed off. The signer's name is not kept: instructors have no way to agree to their
    name appearing on learners' credentials, so no credential names them."""

    position: int
    code: str
    competency: str
    role: str
    signed_at: datetime


# Learners per query when reading many learners' sign-offs, well under any bound-parameter limit.
_CHUNK = 1000


def _signer_roles(session: Session, actor_ids: Collection[int]) -> dict[int, dict[int | None, str]]:
    """Per signer, their role (instructor / teaching assistant) in each course they hold a
    membership in, and under the key None their role everywhere: a teaching assistant only
    if every membership says so."""
    actors = sorted(set(actor_ids))
    found: dict[int, dict[int | None, str]] = defaultdict(dict)
    for start in range(0, len(actors), _CHUNK):
        rows = session.execute(
            select(Membership.user_id, Membership.context_id, Membership.roles).where(
                Membership.user_id.in_(actors[start : start + _CHUNK])
            )
        )
        for user_id, context_id, membership_roles in rows:
            held = set(membership_roles or ())
            is_ta = bool(_TA_ROLES & held) and roles.INSTRUCTOR not in held
            found[user_id][context_id] = TEACHING_ASSISTANT if is_ta else INSTRUCTOR
    for by_context in found.values():
        everywhere = set(by_context.values())
        by_context[None] = TEACHING_ASSISTANT if everywhere == {TEACHING_ASSISTANT} else INSTRUCTOR
    return found


def _signoffs_of(
    session: Session, learner_ids: Collection[int], levels: Collection[FrameworkLevel]
) -> dict[tuple[int, uuid.UUID], list[_Signoff]]:
    """What was signed off for each statement of each level, when and in which role (the
    deciding event of each), for every learner at once: the one progress query
    (``progress.latest_events``), one for the events' courses and one for the signers'
    roles, not a query per credential. An imported sign-off (no signer account) counts as
    an instructor's."""
    placed = {st.id: (level, st) for level in levels for st in level.statements}
    met = [
        (learner_id, statement_id, latest)
        for (learner_id, statement_id), latest in progress.latest_events(
            session, learner_ids, placed
        ).items()
        if latest.met
    ]
    event_ids = sorted(latest.event_id for _, _, latest in met)
    contexts: dict[int, int | None] = {}
    for start in range(0, len(event_ids), _CHUNK):
        rows = session.execute(
            select(SignoffEvent.id, SignoffEvent.context_id).where(
                SignoffEvent.id.in_(event_ids[start : start + _CHUNK])
            )
        )
        contexts.update((event_id, context_id) for event_id, context_id in rows)
    signer_roles = _signer_roles(
        session, [latest.actor_id for _, _, latest in met if latest.actor_id is not None]
    )
    found: dict[tuple[int, uuid.UUID], list[_Signoff]] = defaultdict(list)
    for learner_id, statement_id, latest in sorted(
        met, key=lambda m: (m[0], placed[m[1]][1].position, str(m[1]))
    ):
        level, statement = placed[statement_id]
        role = INSTRUCTOR
        if latest.actor_id is not None:
            by_context = signer_roles.get(latest.actor_id, {})
            role = by_context.get(contexts.get(latest.event_id)) or by_context.get(None, INSTRUCTOR)
        found[(learner_id, level.id)].append(
            _Signoff(
                statement.position,
                f"{level.key}.{statement.position}",
                statement.competency,
                role,
                latest.signed_at,
            )
        )
    return found


def evidence_for(signoffs: Sequence[_Signoff], level: FrameworkLevel) -> list[ob3.EvidenceItem]:
    """One Evidence per statement, for an employer to read: that it was observed and signed
    off, when, and in which role. Never the private notes, never the signer's name."""
    return [
        ob3.EvidenceItem(
            name=f"Statement {s.code}: {s.competency}",
            description=(
                f"Observed and signed off by {'a' if s.role == TEACHING_ASSISTANT else 'an'} "
                f"{s.role} on {s.signed_at:%Y-%m-%d}."
            ),
            genre="Observation",
            audience="Employers and other verifiers",
        )
        for s in signoffs
    ]


# --------------------------------------------------------------------------- issuing


def live_credentials(
    session: Session, *, learner_id: int, level_ids: Collection[uuid.UUID]
) -> list[Credential]:
    """The learner's standing (not revoked) credentials for these levels."""
    ids = set(level_ids)
    if not ids:
        return []
    return list(
        session.scalars(
            select(Credential)
            .where(
                Credential.learner_id == learner_id,
                Credential.level_id.in_(ids),
                Credential.live_key.is_not(None),
            )
            .order_by(Credential.issued_at)
        )
    )


def _standing(
    session: Session, pairs: Collection[tuple[int, uuid.UUID]]
) -> set[tuple[int, uuid.UUID]]:
    """Those (learner, level) pairs that hold a standing credential."""
    keys = sorted(live_key(learner_id, level_id) for learner_id, level_id in pairs)
    found: set[tuple[int, uuid.UUID]] = set()
    for start in range(0, len(keys), _CHUNK):
        rows = session.execute(
            select(Credential.learner_id, Credential.level_id).where(
                Credential.live_key.in_(keys[start : start + _CHUNK])
            )
        )
        found.update((learner_id, level_id) for learner_id, level_id in rows)
    return found


@dataclass(frozen=True)
class _Award:
    learner: User
    level: FrameworkLevel
    context_id: int | None


def issue(
    session: Session,
    *,
    learner: User,
    level: FrameworkLevel,
    context_id: int | None,
    actor_id: int | None,
    now: datetime | None = None,
) -> Credential | None:
    """Sign and store the level's credential for the learner; None if one already stands."""
    issued = _issue_all(session, [_Award(learner, level, context_id)], actor_id=actor_id, now=now)
    return issued[0] if issued else None


def _issue_all(
    session: Session,
    awards: Sequence[_Award],
    *,
    actor_id: int | None,
    now: datetime | None = None,
) -> list[Credential]:
    """Sign and store a credential for each award, in one batch: one status-list update, one
    evidence query, one INSERT per table. An award whose credential stands already (another
    transaction issued it meanwhile) is skipped."""
    if not awards:
        return []
    issuer = issuer_service.context(session)
    signer = issuer.signer()
    issued_at = now or now_utc()
    signoffs = _signoffs_of(session, [a.learner.id for a in awards], [a.level for a in awards])
    try:
        with session.begin_nested():
            rows, unsigned = _prepare(session, issuer, signer, awards, signoffs, issued_at)
            _sign(issuer, signer, rows, unsigned, awards, issued_at)
            session.add_all(rows)
            session.flush()
    except IntegrityError:
        # The savepoint is rolled back and the session usable. One award: if another
        # transaction issued this credential meanwhile, it stands and this sign-off goes on;
        # anything else is a bug. A batch: find the award concerned by trying them one by one.
        if len(awards) > 1:
            return [
                credential
                for award in awards
                for credential in _issue_all(session, [award], actor_id=actor_id, now=now)
            ]
        only = awards[0]
        if live_credentials(session, learner_id=only.learner.id, level_ids=[only.level.id]):
            return []
        raise
    _announce(session, issuer, signer, rows, actor_id)
    return rows


def _prepare(
    session: Session,
    issuer: IssuerContext,
    signer: issuer_service.Signer,
    awards: Sequence[_Award],
    signoffs: dict[tuple[int, uuid.UUID], list[_Signoff]],
    issued_at: datetime,
) -> tuple[list[Credential], list[dict[str, Any]]]:
    """The rows and the unsigned documents, one each per award, each with its status slot."""
    slots = status_lists.allocate_many(session, len(awards))
    achievements: dict[uuid.UUID, ob3.AchievementInput] = {}
    profile = issuer_profile(issuer, signer.issuer_did, issuer_service.institution(session, issuer))
    rows: list[Credential] = []
    unsigned: list[dict[str, Any]] = []
    for award, (status_row, index) in zip(awards, slots, strict=True):
        level, learner = award.level, award.learner
        if level.id not in achievements:
            achievements[level.id] = achievement_for(issuer, level.framework_version, level)
        valid_until = (
            issued_at + timedelta(days=level.credential_valid_days)
            if level.credential_valid_days
            else None
        )
        credential_id = uuid.uuid4()
        unsigned.append(
            ob3.build_credential(
                credential_id=issuer.credential_url(credential_id),
                issuer=profile,
                achievement=achievements[level.id],
                subject=subject_for(learner),
                valid_from=issued_at,
                valid_until=valid_until,
                status=StatusEntry(issuer.status_list_url(status_row.id, signer), index),
                evidence=evidence_for(signoffs.get((learner.id, level.id), []), level),
            )
        )
        rows.append(
            Credential(
                id=credential_id,
                learner_id=learner.id,
                framework_version_id=level.framework_version_id,
                level_id=level.id,
                context_id=award.context_id,
                live_key=live_key(learner.id, level.id),
                status_list_id=status_row.id,
                status_index=index,
                issued_at=issued_at,
                valid_until=valid_until,
                signing_kid=signer.kid,
            )
        )
    return rows, unsigned


def _sign(
    issuer: IssuerContext,
    signer: issuer_service.Signer,
    rows: Sequence[Credential],
    unsigned: Sequence[dict[str, Any]],
    awards: Sequence[_Award],
    issued_at: datetime,
) -> None:
    """Data Integrity proofs for all at once; a VC-JWT too for a learner with a wallet DID."""
    signed = bulk.sign_documents(
        list(unsigned), signer.private_key, signer.verification_method, created=issued_at
    )
    jwt_signer = None
    for row, document, award, plain in zip(rows, signed, awards, unsigned, strict=True):
        row.document = document
        if award.learner.wallet_did:  # OB's VC-JWT needs `sub`: the learner's own DID
            jwt_signer = jwt_signer or issuer.jwt_signer(signer)
            row.jwt = vc_jwt.sign_vc_jwt(
                plain,
                jwt_signer.private_key,
                jwt_signer.kid,
                algorithm=jwt_signer.algorithm,
            )


def _announce(
    session: Session,
    issuer: IssuerContext,
    signer: issuer_service.Signer,
    rows: Sequence[Credential],
    actor_id: int | None,
) -> None:
    """The notification in the outbox and the audit row of each credential issued."""
    outbox.enqueue_new(
        session,
        "notification",
        [
            (
                {
                    "event": "credential.issued",
                    "credential_id": str(row.id),
                    "learner_id": row.learner_id,
                    "level_id": str(row.level_id),
                    "framework_version_id": str(row.framework_version_id),
                    "url": issuer.credential_url(row.id),
                },
                f"credential.issued:{row.id}",
            )
            for row in rows
        ],
    )
    audit.record_many(
        session,
        "credential.issue",
        [
            {
                "actor_id": actor_id,
                "context_id": row.context_id,
                "subject_user_id": row.learner_id,
                "object_type": "credential",
                "object_id": row.id,
                "details": {
                    "level_id": str(row.level_id),
                    "framework_version_id": str(row.framework_version_id),
                    "status_list_id": row.status_list_id,
                    "status_index": row.status_index,
                    "kid": signer.kid,
                    "issuer": signer.issuer_did,
                },
            }
            for row in rows
        ],
    )


_LEVELS = "skillsign.awarding.levels"


def _level(session: Session, level_id: uuid.UUID) -> FrameworkLevel | None:
    """A level with its statements, loaded once per session: every sign-off asks for the same
    few levels, and the session's identity map is weak, so it would query them every time."""
    cache: dict[uuid.UUID, FrameworkLevel] = session.info.setdefault(_LEVELS, {})
    level = cache.get(level_id)
    if level is None or level not in session:
        level = session.get(FrameworkLevel, level_id)
        if level is not None:
            cache[level_id] = level
    return level


def award_if_complete(
    session: Session,
    *,
    learner_id: int,
    level_ids: Collection[uuid.UUID],
    context_id: int | None,
    actor_id: int | None,
) -> list[Credential]:
    """Issue a credential for each of ``level_ids`` the learner has now completed and holds
    no standing credential for. The caller holds the learner's lock (signoffs.lock_learners)."""
    return award_completed(
        session,
        [(learner_id, level_id, context_id) for level_id in level_ids],
        actor_id=actor_id,
    )


def award_completed(
    session: Session,
    candidates: Iterable[tuple[int, uuid.UUID, int | None]],
    *,
    actor_id: int | None,
) -> list[Credential]:
    """Issue the credentials that ``(learner, level, context)`` candidates have now earned:
    each level the learner has completed and holds no standing credential for. The caller
    holds the learners' locks (signoffs.lock_learners).

    A few queries whatever the number of candidates (progress, standing credentials, users,
    evidence), and one batch of inserts: a bulk sign-off or import of a thousand learners does
    not cost a thousand round trips per step. A candidate named twice keeps its last context.
    """
    wanted: dict[tuple[int, uuid.UUID], int | None] = {}
    for learner_id, level_id, context_id in candidates:
        wanted[(learner_id, level_id)] = context_id
    if not wanted:
        return []
    levels = {
        level.id: level
        for level in (_level(session, i) for i in {lv for _, lv in wanted})
        if level is not None and level.statements
    }
    statement_ids = {st.id for level in levels.values() for st in level.statements}
    met = progress.cohort_met(session, {learner for learner, _ in wanted}, statement_ids)
    complete = [
        (learner_id, level_id)
        for learner_id, level_id in wanted
        if level_id in levels
        and all(st.id in met[learner_id] for st in levels[level_id].statements)
    ]
    if not complete:
        return []  # the common case: a sign-off that completes nothing
    standing = _standing(session, complete)
    todo = [pair for pair in complete if pair not in standing]
    if not todo:
        return []
    users = _users(session, {learner_id for learner_id, _ in todo})
    missing = sorted({learner_id for learner_id, _ in todo} - users.keys())
    if missing:
        raise NotFound(f"no user with id {missing[0]}")
    # Per learner, levels in framework order: the credentials come out in a stable order.
    todo.sort(key=lambda p: (p[0], str(levels[p[1]].framework_version_id), levels[p[1]].position))
    return _issue_all(
        session,
        [
            _Award(users[learner_id], levels[level_id], wanted[(learner_id, level_id)])
            for learner_id, level_id in todo
        ],
        actor_id=actor_id,
    )


def _users(session: Session, user_ids: Collection[int]) -> dict[int, User]:
    ordered = sorted(user_ids)
    found: dict[int, User] = {}
    for start in range(0, len(ordered), _CHUNK):
        found.update(
            (user.id, user)
            for user in session.scalars(
                select(User).where(User.id.in_(ordered[start : start + _CHUNK]))
            )
        )
    return found


# --------------------------------------------------------------------------- revoking


def revoke(
    session: Session,
    credential: Credential,
    *,
    reason: str,
    actor_id: int | None,
    actor_label: str | None = None,
) -> Credential:
    """Revoke with a reason (shown on the credential's public page): the status bit is set, so
    every verifier sees it, and the learner can be awarded the level again later."""
    reason = (reason or "").strip()
    if not reason:
        raise CredentialError("give a reason for the revocation; it is shown publicly")
    if len(reason) > REASON_LIMIT:
        raise CredentialError(
            f"the reason is {len(reason)} characters long; the limit is {REASON_LIMIT}"
        )
    moment = now_utc()
    # Conditional, so two revocations at once record one.
    done = session.execute(
        update(Credential)
        .where(and_(Credential.id == credential.id, Credential.revoked_at.is_(None)))
        .values(
            revoked_at=moment,
            revoked_by_id=actor_id,
            revocation_reason=reason,
            live_key=None,
        )
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", done).rowcount != 1:  # an UPDATE: it has rowcount
        raise Conflict(f"credential {credential.id} is already revoked")
    status_lists.set_bit(session, credential.status_list_id, credential.status_index, True)
    session.refresh(credential)
    issuer = issuer_service.context(session)
    outbox.enqueue(
        session,
        "notification",
        {
            "event": "credential.revoked",
            "credential_id": str(credential.id),
            "learner_id": credential.learner_id,
            "reason": reason,
            "url": issuer.credential_url(credential.id),
        },
        dedupe_key=f"credential.revoked:{credential.id}",
    )
    audit.record(
        session,
        "credential.revoke",
        actor_id=actor_id,
        actor_label=actor_label,
        context_id=credential.context_id,
        subject_user_id=credential.learner_id,
        object_type="credential",
        object_id=credential.id,
        details={
            "reason": reason,
            "status_list_id": credential.status_list_id,
            "status_index": credential.status_index,
        },
    )
    _revoke_wallet_copies(session, credential, reason, actor_id, actor_label)
    return credential


def _revoke_wallet_copies(
    session: Session,
    credential: Credential,
    reason: str,
    actor_id: int | None,
    actor_label: str | None,
) -> None:
    """Revoke the copies of ``credential`` claimed into wallets (services/wallet.py): each is
    a credential of its own, and none may outlive the achievement it copies."""
    copies = session.scalars(
        select(Credential).where(
            Credential.copy_of_id == credential.id, Credential.revoked_at.is_(None)
        )
    ).all()
    for copy in copies:
        revoke(session, copy, reason=reason, actor_id=actor_id, actor_label=actor_label)


def reissue(
    session: Session,
    *,
    learner_id: int,
    level_id: uuid.UUID,
    context_id: int | None,
    actor_id: int | None,
) -> Credential:
    """Issue a level's credential again after a revocation, once its cause is fixed: only
    while no credential stands for the learner and level, one was revoked, and the level is
    complete again from the stored sign-offs (never from anything the request says). The new
    credential is signed like any other; the audit trail links it to the one it replaces."""
    from lti_app.services import signoffs  # signoffs imports this module
    from lti_app.services.messages import N_, UserError

    signoffs.lock_learners(session, [learner_id])  # as a sign-off would: one award at a time
    if live_credentials(session, learner_id=learner_id, level_ids=[level_id]):
        raise UserError(
            N_("A credential for this level stands already: there is nothing to re-issue."),
            status=409,
        )
    replaced = session.scalars(
        select(Credential)
        .where(
            Credential.learner_id == learner_id,
            Credential.level_id == level_id,
            Credential.revoked_at.is_not(None),
            # Not a wallet copy: revoked with it a moment later, it would win the ordering.
            Credential.copy_of_id.is_(None),
        )
        .order_by(Credential.revoked_at.desc())
        .limit(1)
    ).first()
    if replaced is None:
        raise UserError(
            N_("No credential of this level was revoked: there is nothing to re-issue."),
            status=409,
        )
    issued = award_completed(session, [(learner_id, level_id, context_id)], actor_id=actor_id)
    if not issued:
        raise UserError(
            N_(
                "The level is not complete: sign off its remaining statements first; the "
                "credential is then issued at once."
            ),
            status=409,
        )
    (credential,) = issued
    audit.record(
        session,
        "credential.reissue",
        actor_id=actor_id,
        context_id=context_id,
        subject_user_id=learner_id,
        object_type="credential",
        object_id=credential.id,
        details={
            "replaces": str(replaced.id),
            "revoked_at": replaced.revoked_at.isoformat() if replaced.revoked_at else None,
            "revocation_reason": replaced.revocation_reason,
        },
    )
    return credential


# --------------------------------------------------------------------------- wallet


def validate_did(value: str) -> str:
    """A DID (``did:method:id``) or CredentialError saying what is wrong with it."""
    text = value.strip()
    if len(text) > DID_LIMIT:
        raise CredentialError(f"a DID may be at most {DID_LIMIT} characters, got {len(text)}")
    if not text.startswith("did:"):
        raise CredentialError(f"{text!r} is not a DID: it must start with 'did:'")
    if any(c in text for c in "#?/"):
        raise CredentialError(f"{text!r}: give the DID itself, without a path, query or #fragment")
    if not _DID.match(text):
        raise CredentialError(
            f"{text!r} is not a DID: expected did:<method>:<id>, the method in lower-case "
            "letters and digits, the id in letters, digits, '.', '-', '_', ':' or %-escapes"
        )
    return text


def set_wallet_did(session: Session, user_id: int, did: str | None) -> User:
    """Attach (or, with None/empty, remove) the learner's wallet DID. Credentials issued from
    then on name it as ``credentialSubject.id`` and come with a VC-JWT."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    value = validate_did(did) if did and did.strip() else None
    previous = user.wallet_did
    user.wallet_did = value
    session.flush()
    audit.record(
        session,
        "user.wallet_did",
        actor_id=user_id,
        subject_user_id=user_id,
        object_type="user",
        object_id=user_id,
        details={"previous": previous, "did": value},
    )
    return user


def credential_state(credential: Credential, now: datetime | None = None) -> str:
    """``revoked``, ``expired`` or ``valid`` from the record (no cryptography)."""
    moment = now or now_utc()
    if credential.revoked_at is not None:
        return "revoked"
    if credential.valid_until is not None and credential.valid_until < moment:
        return "expired"
    return "valid"


def summary(credential: Credential) -> dict[str, Any]:
    return {
        "id": str(credential.id),
        "learner_id": credential.learner_id,
        "level_id": str(credential.level_id),
        "framework_version_id": str(credential.framework_version_id),
        "issued_at": credential.issued_at.isoformat(),
        "valid_until": credential.valid_until.isoformat() if credential.valid_until else None,
        "revoked_at": credential.revoked_at.isoformat() if credential.revoked_at else None,
        "revocation_reason": credential.revocation_reason,
        "state": credential_state(credential),
        "has_jwt": credential.jwt is not None,
        "signing_kid": credential.signing_kid,
        # A copy claimed into a wallet (services/wallet.py): the credential it copies, and
        # the wallet's DID it is bound to.
        "copy_of": str(credential.copy_of_id) if credential.copy_of_id else None,
        "holder_did": credential.holder_did,
    }
