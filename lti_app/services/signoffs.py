"""Signing statements off, and undoing sign-offs.

Every decision is a new row in ``signoff_events`` plus an audit row; nothing is
updated or deleted. Progress, scores and awards are computed afterwards from
the stored events, in the same transaction, so a sign-off and its consequences
(a credential, an AGS score in the outbox) stand or fall together.

Authorisation lives here too, not only in the views: whatever calls these
functions (a page, the API, the CLI), only an instructor or TA of the course
can sign, and only for learners of that course.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from lti_app.db import utcnow
from lti_app.db.models import (
    Credential,
    Membership,
    ResourceLink,
    SignoffEvent,
    Statement,
    User,
)
from lti_app.services import audit, awarding, gradebook, progress
from lti_app.services.errors import AppError, Forbidden, NotFound

NOTE_LIMIT = 4000
_LOCK_CHUNK = 1000


class SignoffError(AppError):
    code = "signoff.invalid"


@dataclass
class SignResult:
    events: list[SignoffEvent] = field(default_factory=list)
    # (learner, statement) pairs that were already met: nothing was written for them.
    already_met: list[tuple[int, uuid.UUID]] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)


@dataclass
class UndoResult:
    event: SignoffEvent | None
    revoked: list[Credential] = field(default_factory=list)


def instructor_membership(session: Session, actor_id: int, context_id: int) -> Membership:
    """The actor's membership if it lets them sign in this course (Instructor/TA), else 403."""
    membership = session.scalar(
        select(Membership).where(
            Membership.context_id == context_id, Membership.user_id == actor_id
        )
    )
    if membership is None or not membership.active or not membership.is_instructor:
        raise Forbidden("Only the course's instructors and teaching assistants can sign off.")
    return membership


def course_learner_ids(session: Session, context_id: int, user_ids: Iterable[int]) -> set[int]:
    """Those of ``user_ids`` who are learners of the course; anyone else is refused."""
    wanted = set(user_ids)
    if not wanted:
        return set()
    found = set(
        session.scalars(
            select(Membership.user_id).where(
                Membership.context_id == context_id,
                Membership.user_id.in_(wanted),
                Membership.is_learner.is_(True),
            )
        )
    )
    missing = wanted - found
    if missing:
        raise NotFound(
            f"not learners of this course: user id(s) {', '.join(map(str, sorted(missing)))}"
        )
    return found


def lock_learners(session: Session, learner_ids: Iterable[int]) -> None:
    """Serialise sign-offs per learner until the transaction ends.

    Without it two instructors signing a learner's last two statements at the
    same moment would each see the other's event as missing, and neither would
    award the credential. On PostgreSQL a ``SELECT ... ORDER BY id FOR UPDATE``
    takes the row locks in id order, so two bulk actions never deadlock; on
    SQLite an UPDATE, being the transaction's first write, takes the database
    write lock. One statement per thousand learners either way.
    """
    ordered = sorted(set(learner_ids))
    postgres = session.get_bind().dialect.name == "postgresql"
    for start in range(0, len(ordered), _LOCK_CHUNK):
        chunk = ordered[start : start + _LOCK_CHUNK]
        if postgres:
            session.execute(
                select(User.id).where(User.id.in_(chunk)).order_by(User.id).with_for_update()
            ).all()
        else:
            session.execute(
                update(User)
                .where(User.id.in_(chunk))
                .values(id=User.id)
                # Nothing changes, so there is nothing to sync into loaded objects; the
                # default would scan every User the session holds.
                .execution_options(synchronize_session=False)
            )


def _statements(
    session: Session, statement_ids: Collection[uuid.UUID], allowed: Collection[uuid.UUID] | None
) -> list[Statement]:
    ids = set(statement_ids)
    if allowed is not None and not ids <= set(allowed):
        raise SignoffError("some statements are not part of this checklist")
    rows = list(session.scalars(select(Statement).where(Statement.id.in_(ids))))
    if len(rows) != len(ids):
        raise NotFound("unknown statement id")
    return rows


def _clean_note(note: str | None) -> str | None:
    if note is None:
        return None
    note = note.strip()
    if len(note) > NOTE_LIMIT:
        raise SignoffError(f"the note is {len(note)} characters long; the limit is {NOTE_LIMIT}")
    return note or None


def links_for_statements(
    session: Session, context_id: int, version_ids: Collection[uuid.UUID]
) -> list[ResourceLink]:
    return list(
        session.scalars(
            select(ResourceLink).where(
                ResourceLink.context_id == context_id,
                ResourceLink.framework_version_id.in_(set(version_ids)),
            )
        )
    )


def _after_change(
    session: Session,
    *,
    touched: Collection[tuple[int, uuid.UUID, int | None]],
    statements: Mapping[uuid.UUID, Statement],
    actor_id: int | None,
) -> list[Credential]:
    """Awards and scores that follow from new events (same transaction). ``touched`` holds
    (learner, statement, course) of each new event."""
    issued = awarding.award_completed(
        session,
        [(learner, statements[sid].level_id, context) for learner, sid, context in touched],
        actor_id=actor_id,
    )
    versions: dict[int, set[uuid.UUID]] = defaultdict(set)
    learners: dict[int, set[int]] = defaultdict(set)
    for learner, sid, context in touched:
        if context is not None:
            versions[context].add(statements[sid].framework_version_id)
            learners[context].add(learner)
    for context_id in sorted(versions):
        for link in links_for_statements(session, context_id, versions[context_id]):
            gradebook.enqueue_scores(session, link.id, learners[context_id])
    return issued


def sign(
    session: Session,
    *,
    actor_id: int | None,
    context_id: int | None,
    learner_ids: Iterable[int],
    statement_ids: Iterable[uuid.UUID],
    note: str | None = None,
    evidence: dict[str, Any] | None = None,
    request_id: int | None = None,
    allowed_statements: Collection[uuid.UUID] | None = None,
) -> SignResult:
    """Sign statements off for learners (one cell, a row, a column or a selection).

    Cells already met are left alone and reported, so a bulk action never
    stacks duplicate rows and two instructors working at once lose nothing.
    """
    learners = set(learner_ids)
    wanted = list(dict.fromkeys(statement_ids))
    if not learners or not wanted:
        raise SignoffError("choose at least one learner and one statement")
    if actor_id is None or context_id is None:
        raise Forbidden("sign-offs need an instructor of a course")
    instructor_membership(session, actor_id, context_id)
    course_learner_ids(session, context_id, learners)
    lock_learners(session, learners)
    by_id = {st.id: st for st in _statements(session, wanted, allowed_statements)}
    note = _clean_note(note)
    met = progress.cohort_met(session, learners, by_id)
    result = SignResult()
    cells: list[tuple[int, uuid.UUID]] = []
    for learner_id in sorted(learners):
        for statement_id in wanted:
            if statement_id in met[learner_id]:
                result.already_met.append((learner_id, statement_id))
            else:
                cells.append((learner_id, statement_id))
    result.events = _write_sign_events(
        session,
        cells,
        actor_id=actor_id,
        context_id=context_id,
        note=note,
        evidence=evidence,
        request_id=request_id,
    )
    if result.events:
        result.credentials = _after_change(
            session,
            touched={(e.learner_id, e.statement_id, context_id) for e in result.events},
            statements=by_id,
            actor_id=actor_id,
        )
    return result


def _write_sign_events(
    session: Session,
    cells: Sequence[tuple[int, uuid.UUID]],
    *,
    actor_id: int,
    context_id: int,
    note: str | None,
    evidence: dict[str, Any] | None,
    request_id: int | None,
) -> list[SignoffEvent]:
    """One ``sign`` event and its audit row per (learner, statement) cell."""
    when = utcnow()
    events = [
        SignoffEvent(
            learner_id=learner_id,
            statement_id=statement_id,
            context_id=context_id,
            actor_id=actor_id,
            action="sign",
            note=note,
            evidence=evidence or {},
            request_id=request_id,
            signed_at=when,
        )
        for learner_id, statement_id in cells
    ]
    session.add_all(events)
    session.flush()
    for event in events:
        audit.record(
            session,
            "signoff.sign",
            actor_id=actor_id,
            context_id=context_id,
            subject_user_id=event.learner_id,
            object_type="statement",
            object_id=event.statement_id,
            details={"event_id": event.id, "note": note, "request_id": request_id},
        )
    return events


def undo(
    session: Session,
    *,
    actor_id: int,
    context_id: int,
    learner_id: int,
    statement_id: uuid.UUID,
    reason: str | None = None,
    allowed_statements: Collection[uuid.UUID] | None = None,
) -> UndoResult:
    """Undo a sign-off with a new event; revoke the level's credential if one was issued.

    Revoking a credential someone may already have shown an employer needs a
    reason, which goes on its public page.
    """
    instructor_membership(session, actor_id, context_id)
    course_learner_ids(session, context_id, [learner_id])
    lock_learners(session, [learner_id])
    (statement,) = _statements(session, [statement_id], allowed_statements)
    if statement_id not in progress.met_statement_ids(session, learner_id, [statement_id]):
        raise SignoffError("this statement is not signed off for this learner")
    live = awarding.live_credentials(session, learner_id=learner_id, level_ids=[statement.level_id])
    reason = _clean_note(reason)
    if live and not reason:
        raise SignoffError(
            "a credential was already issued for this level: give a reason to revoke it"
        )
    event = SignoffEvent(
        learner_id=learner_id,
        statement_id=statement_id,
        context_id=context_id,
        actor_id=actor_id,
        action="undo",
        note=reason,
    )
    session.add(event)
    session.flush()
    audit.record(
        session,
        "signoff.undo",
        actor_id=actor_id,
        context_id=context_id,
        subject_user_id=learner_id,
        object_type="statement",
        object_id=statement_id,
        details={"event_id": event.id, "reason": reason},
    )
    revoked = [
        awarding.revoke(session, credential, reason=reason or "", actor_id=actor_id)
        for credential in live
    ]
    _after_change(
        session,
        touched=[(learner_id, statement_id, context_id)],
        statements={statement_id: statement},
        actor_id=actor_id,
    )
    return UndoResult(event=event, revoked=revoked)


@dataclass(frozen=True)
class Record:
    """A sign-off made outside the app (a paper checklist, another system): a learner's
    statements, signed by someone named, at a given time."""

    learner_id: int
    statement_ids: Sequence[uuid.UUID]
    context_id: int | None
    signed_at: datetime
    actor_label: str | None = None
    note: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    # Made unique per event as ``<source_key>:<learner>:<statement>``.
    source_key: str | None = None


@dataclass
class RecordsResult:
    signed: int = 0  # new events
    already_met: list[tuple[int, uuid.UUID]] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)


def sign_records(session: Session, records: Sequence[Record]) -> RecordsResult:
    """Write many records in one batch, with no role checks: for trusted back-office paths
    (the CSV import), which name each signer in ``actor_label``.

    The rules and consequences of :func:`sign` (cells already met are left alone, awards,
    scores, an audit row per event) at a fixed number of statements per batch rather than a
    dozen per record: one INSERT of all events and one of their audit rows, one progress query,
    one batch of credentials. Events are written in the order of ``records``; a credential
    names the course of the last record that touched its level.
    """
    result = RecordsResult()
    if not records:
        return result
    learners = {record.learner_id for record in records}
    lock_learners(session, learners)
    wanted = {sid for record in records for sid in record.statement_ids}
    by_id = {st.id: st for st in _statements(session, wanted, None)}
    met = progress.cohort_met(session, learners, by_id)
    rows = _record_event_rows(records, met, result.already_met)
    if not rows:
        return result
    _insert_record_events(session, rows)
    result.signed = len(rows)
    result.credentials = _after_change(
        session,
        touched=[(row["learner_id"], row["statement_id"], row["context_id"]) for row in rows],
        statements=by_id,
        actor_id=None,
    )
    return result


def _record_event_rows(
    records: Sequence[Record],
    met: Mapping[int, Collection[uuid.UUID]],
    already_met: list[tuple[int, uuid.UUID]],
) -> list[dict[str, Any]]:
    """The ``signoff_events`` rows of the records' cells not met yet; the cells that were
    are appended to ``already_met``."""
    rows: list[dict[str, Any]] = []
    written: set[tuple[int, uuid.UUID]] = set()
    for record in records:
        note = _clean_note(record.note)
        for statement_id in dict.fromkeys(record.statement_ids):
            cell = (record.learner_id, statement_id)
            # A later record naming a cell written here finds it met, as a second sign() would.
            if statement_id in met[record.learner_id] or cell in written:
                already_met.append(cell)
                continue
            written.add(cell)
            rows.append(
                {
                    "learner_id": record.learner_id,
                    "statement_id": statement_id,
                    "context_id": record.context_id,
                    "actor_id": None,
                    "actor_label": record.actor_label,
                    "action": "sign",
                    "note": note,
                    "evidence": dict(record.evidence),
                    "request_id": None,
                    "signed_at": record.signed_at,
                    "source_key": (
                        f"{record.source_key}:{record.learner_id}:{statement_id}"
                        if record.source_key
                        else None
                    ),
                }
            )
    return rows


def _insert_record_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the events and their audit rows, one statement each.

    One executemany without RETURNING: SQLite cannot return the ids of a batch in order, so
    SQLAlchemy would send one INSERT per row. The ids are read back instead: with the
    learners locked, each cell's newest event is the one just written.
    """
    session.execute(insert(SignoffEvent), rows)
    newest = progress.latest_events(
        session, {row["learner_id"] for row in rows}, {row["statement_id"] for row in rows}
    )
    event_ids = [newest[(row["learner_id"], row["statement_id"])].event_id for row in rows]
    audit.record_many(
        session,
        "signoff.sign",
        [
            {
                "actor_label": row["actor_label"],
                "context_id": row["context_id"],
                "subject_user_id": row["learner_id"],
                "object_type": "statement",
                "object_id": row["statement_id"],
                "details": {"event_id": event_id, "note": row["note"], "request_id": None},
            }
            for row, event_id in zip(rows, event_ids, strict=True)
        ],
    )
