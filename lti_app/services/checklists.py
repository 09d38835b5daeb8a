"""View models of the checklist pages: a learner's progress, the instructor grid, the
cohort, the progress CSV and a learner's audit trail.

Everything is read from the append-only sign-off log with the one progress query,
``services.progress.latest_events`` (the latest event per learner and statement decides).
Each function costs a fixed number of queries whatever the number of
learners: the grid of 500 learners x 40 statements reads the roster and the
per-learner counts once, and details only for the page shown.
"""

from __future__ import annotations

import io
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, aliased, defer

from lti_app.db.models import (
    AuditEvent,
    Credential,
    FrameworkVersion,
    Membership,
    ResourceLink,
    SignoffRequest,
    User,
)
from lti_app.services import csv_safe, progress

PER_PAGE = 50
MAX_PER_PAGE = 200
STATUSES = ("not_started", "in_progress", "complete")
StatusFilter = Literal["all", "not_started", "in_progress", "complete"]
CellState = Literal["met", "requested", "not_yet"]


# -- what a link covers -------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """A statement as the pages show it; ``code`` ("2.3": level 2, statement 3) is stable
    for a framework version, whatever levels a link covers."""

    id: uuid.UUID
    code: str
    level_id: uuid.UUID
    level_key: str
    position: int
    competency: str
    performance: str | None
    text: str


@dataclass(frozen=True)
class LevelScope:
    id: uuid.UUID
    key: str
    label: str
    position: int
    statements: tuple[Column, ...]


@dataclass(frozen=True)
class Scope:
    """A resource link's framework version and the levels it covers, in framework order."""

    link_id: int
    context_id: int
    version_id: uuid.UUID
    title: str
    version: str
    levels: tuple[LevelScope, ...]
    statements: tuple[Column, ...] = field(init=False)
    by_id: Mapping[uuid.UUID, Column] = field(init=False)

    def __post_init__(self) -> None:
        statements = tuple(st for lv in self.levels for st in lv.statements)
        object.__setattr__(self, "statements", statements)
        object.__setattr__(self, "by_id", {st.id: st for st in statements})

    @property
    def statement_ids(self) -> list[uuid.UUID]:
        return [st.id for st in self.statements]

    def level(self, key: str | None) -> LevelScope | None:
        return next((lv for lv in self.levels if lv.key == key), None)

    def level_of(self, statement_id: uuid.UUID) -> LevelScope | None:
        column = self.by_id.get(statement_id)
        return (
            None if column is None else next(lv for lv in self.levels if lv.id == column.level_id)
        )


# What a link covers depends only on its framework version (never changed once imported:
# a changed framework is a new version, and the content hash is part of the key all the same)
# and its level keys, so it is read once per process, not on every page of every launch: the
# version with its whole document, its levels and its statements were three queries a page.
_SCOPES: dict[tuple[uuid.UUID, str, tuple[str, ...]], tuple[str, str, tuple[LevelScope, ...]]] = {}
_SCOPES_MAX = 256


def link_scope(session: Session, link: ResourceLink) -> Scope | None:
    """The scope of a link, or None while it is not set up."""
    if link.framework_version_id is None:
        return None
    head = session.execute(
        select(FrameworkVersion.content_hash).where(
            FrameworkVersion.id == link.framework_version_id
        )
    ).first()
    if head is None:
        return None
    key = (link.framework_version_id, head.content_hash, tuple(sorted(link.level_keys or ())))
    found = _SCOPES.get(key)
    if found is None:
        version = session.get(FrameworkVersion, link.framework_version_id)
        if version is None:
            return None
        found = (version.title, version.version, _levels(version, set(key[2])))
        if len(_SCOPES) >= _SCOPES_MAX:
            _SCOPES.clear()
        _SCOPES[key] = found
    title, version_label, levels = found
    return Scope(
        link_id=link.id,
        context_id=link.context_id,
        version_id=link.framework_version_id,
        title=title,
        version=version_label,
        levels=levels,
    )


def _levels(version: FrameworkVersion, wanted: set[str]) -> tuple[LevelScope, ...]:
    levels = []
    for lv in version.levels:
        if wanted and lv.key not in wanted:
            continue
        columns = tuple(
            Column(
                id=st.id,
                code=f"{lv.position}.{st.position}",
                level_id=lv.id,
                level_key=lv.key,
                position=st.position,
                competency=st.competency,
                performance=st.performance,
                text=st.text,
            )
            for st in lv.statements
        )
        levels.append(LevelScope(lv.id, lv.key, lv.label, lv.position, columns))
    return tuple(levels)


# -- people ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    id: int
    name: str
    email: str | None
    sort_key: tuple[str, str, str] = field(compare=False, repr=False)

    def matches(self, needle: str) -> bool:
        return needle in self.name.casefold() or (
            self.email is not None and needle in self.email.casefold()
        )


def display_name(
    name: str | None, given: str | None, family: str | None, email: str | None, user_id: int
) -> str:
    """What to call a person: their name, else given + family name, else email, else a number
    (Canvas's Test Student and privacy settings leave some of these empty)."""
    full = (name or "").strip() or " ".join(p for p in (given, family) if p and p.strip())
    return full or (email or "").strip() or f"#{user_id}"


def _person(user_id: int, name: str | None, given: str | None, family: str | None,
            email: str | None) -> Person:  # fmt: skip
    shown = display_name(name, given, family, email, user_id)
    sort_key = ((family or "").casefold(), (given or "").casefold(), shown.casefold())
    if not family:
        sort_key = (shown.casefold(), "", "")
    return Person(user_id, shown, email, sort_key)


_PERSON_COLUMNS = (User.id, User.name, User.given_name, User.family_name, User.email)


def people(session: Session, user_ids: Iterable[int]) -> dict[int, Person]:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = session.execute(select(*_PERSON_COLUMNS).where(User.id.in_(ids)))
    return {row[0]: _person(*row) for row in rows}


def roster(session: Session, context_id: int) -> list[Person]:
    """The course's active learners (from NRPS and launches), sorted by family name."""
    rows = session.execute(
        select(*_PERSON_COLUMNS)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.context_id == context_id,
            Membership.is_learner.is_(True),
            Membership.active.is_(True),
        )
    )
    return sorted((_person(*row) for row in rows), key=lambda p: (p.sort_key, p.id))


# -- the latest event per learner and statement ----------------------------------------
@dataclass(frozen=True)
class Signed:
    at: datetime
    by: str
    note: str | None = None


def signed_cells(
    session: Session, learner_ids: Collection[int], statement_ids: Collection[uuid.UUID]
) -> dict[tuple[int, uuid.UUID], Signed]:
    """Met cells with who signed them and when: the one progress query
    (``progress.latest_events``), then the signers' names in one more."""
    met = {
        pair: latest
        for pair, latest in progress.latest_events(session, learner_ids, statement_ids).items()
        if latest.met
    }
    signers = people(session, {e.actor_id for e in met.values() if e.actor_id is not None})
    return {
        pair: Signed(
            at=e.signed_at,
            by=signers[e.actor_id].name if e.actor_id in signers else (e.actor_label or "—"),
            note=e.note,
        )
        for pair, e in met.items()
    }


def met_pairs(
    session: Session, learner_ids: Collection[int], statement_ids: Collection[uuid.UUID]
) -> dict[int, set[uuid.UUID]]:
    """Met statements per learner (learners with none are absent)."""
    met: dict[int, set[uuid.UUID]] = defaultdict(set)
    for learner_id, statements in progress.cohort_met(session, learner_ids, statement_ids).items():
        if statements:
            met[learner_id] = set(statements)
    return met


def _met_counts(
    session: Session, learner_ids: Collection[int], statement_ids: Collection[uuid.UUID]
) -> dict[int, int]:
    """How many of the statements each learner has met (learners with none are absent)."""
    return progress.met_counts(session, learner_ids, statement_ids)


def status_of(met: int, total: int) -> str:
    if total and met >= total:
        return "complete"
    return "in_progress" if met else "not_started"


# -- requests and credentials -----------------------------------------------------------
@dataclass(frozen=True)
class RequestView:
    id: int
    learner_id: int
    statement_id: uuid.UUID
    status: str
    created_at: datetime
    text: str
    url: str | None
    file_name: str | None
    file_type: str | None
    comment: str | None
    decided_at: datetime | None
    decided_by: str | None


def _request_views(session: Session, query: Any) -> list[RequestView]:
    requests = list(session.scalars(query.options(defer(SignoffRequest.evidence_file))))
    deciders = people(session, [r.decided_by_id for r in requests if r.decided_by_id])
    return [
        RequestView(
            id=r.id,
            learner_id=r.learner_id,
            statement_id=r.statement_id,
            status=r.status,
            created_at=r.created_at,
            text=r.evidence_text,
            url=r.evidence_url,
            file_name=r.evidence_file_name,
            file_type=r.evidence_file_type,
            comment=r.decision_comment,
            decided_at=r.decided_at,
            decided_by=deciders[r.decided_by_id].name if r.decided_by_id in deciders else None,
        )
        for r in requests
    ]


@dataclass(frozen=True)
class CredentialView:
    id: uuid.UUID
    level_id: uuid.UUID
    issued_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


def _still_revoked(credentials: Collection[CredentialView]) -> tuple[CredentialView, ...]:
    """The latest revoked credential of each level that has no standing one."""
    standing = {c.level_id for c in credentials if c.live}
    latest: dict[uuid.UUID, CredentialView] = {}
    for c in credentials:
        if c.live or c.level_id in standing:
            continue
        if c.level_id not in latest or (c.revoked_at or c.issued_at) > (
            latest[c.level_id].revoked_at or latest[c.level_id].issued_at
        ):
            latest[c.level_id] = c
    return tuple(latest.values())


def credentials_of(
    session: Session, learner_ids: Collection[int], level_ids: Collection[uuid.UUID]
) -> dict[int, list[CredentialView]]:
    if not learner_ids or not level_ids:
        return {}
    rows = session.execute(
        select(
            Credential.learner_id,
            Credential.id,
            Credential.level_id,
            Credential.issued_at,
            Credential.revoked_at,
            Credential.revocation_reason,
        )
        .where(
            Credential.learner_id.in_(sorted(set(learner_ids))),
            Credential.level_id.in_(sorted(set(level_ids))),
            Credential.copy_of_id.is_(None),  # wallet copies are listed with their credential
        )
        .order_by(Credential.issued_at.desc())
    )
    found: dict[int, list[CredentialView]] = defaultdict(list)
    for learner_id, *rest in rows:
        found[learner_id].append(CredentialView(*rest))  # type: ignore[arg-type]  # selected in field order
    return found


# -- a learner's checklist ----------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    column: Column
    state: CellState
    signed: Signed | None
    pending: RequestView | None
    declined: RequestView | None  # the latest declined request while nothing is pending


@dataclass(frozen=True)
class LevelProgressView:
    level: LevelScope
    items: tuple[Item, ...]
    met: int
    total: int
    credential: CredentialView | None  # the live one
    revoked: tuple[CredentialView, ...]

    @property
    def percent(self) -> int:
        return round(100 * self.met / self.total) if self.total else 0

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.met == self.total


@dataclass(frozen=True)
class Checklist:
    learner: Person
    levels: tuple[LevelProgressView, ...]

    @property
    def met(self) -> int:
        return sum(lv.met for lv in self.levels)

    @property
    def total(self) -> int:
        return sum(lv.total for lv in self.levels)

    @property
    def credentials(self) -> list[tuple[LevelScope, CredentialView]]:
        return [(lv.level, lv.credential) for lv in self.levels if lv.credential is not None]

    @property
    def pending(self) -> list[Item]:
        return [item for lv in self.levels for item in lv.items if item.pending is not None]


def checklist(
    session: Session, scope: Scope, learner_id: int, *, private_notes: bool = False
) -> Checklist:
    """One learner's progress on a link; instructors also see their notes (``private_notes``)."""
    person = people(session, [learner_id]).get(learner_id) or _person(
        learner_id, None, None, None, None
    )
    ids = scope.statement_ids
    signed = signed_cells(session, [learner_id], ids)
    requests = _request_views(
        session,
        select(SignoffRequest)
        .where(
            SignoffRequest.learner_id == learner_id,
            SignoffRequest.statement_id.in_(ids),
            SignoffRequest.status.in_(("pending", "declined")),
        )
        .order_by(SignoffRequest.id),
    )
    pending = {r.statement_id: r for r in requests if r.status == "pending"}
    declined = {r.statement_id: r for r in requests if r.status == "declined"}  # latest wins
    creds = credentials_of(session, [learner_id], [lv.id for lv in scope.levels]).get(
        learner_id, []
    )
    levels = []
    for lv in scope.levels:
        items = []
        for column in lv.statements:
            mark = signed.get((learner_id, column.id))
            if mark is not None and not private_notes:
                mark = Signed(at=mark.at, by=mark.by)
            request = pending.get(column.id)
            state: CellState = "met" if mark else ("requested" if request else "not_yet")
            items.append(
                Item(
                    column=column,
                    state=state,
                    signed=mark,
                    pending=request,
                    declined=None if mark or request else declined.get(column.id),
                )
            )
        of_level = [c for c in creds if c.level_id == lv.id]
        levels.append(
            LevelProgressView(
                level=lv,
                items=tuple(items),
                met=sum(1 for i in items if i.state == "met"),
                total=len(items),
                credential=next((c for c in of_level if c.live), None),
                revoked=tuple(c for c in of_level if not c.live),
            )
        )
    return Checklist(learner=person, levels=tuple(levels))


# -- the instructor grid ------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    column: Column
    signed: Signed | None
    request_id: int | None

    @property
    def state(self) -> CellState:
        if self.signed is not None:
            return "met"
        return "requested" if self.request_id is not None else "not_yet"


@dataclass(frozen=True)
class Row:
    learner: Person
    cells: tuple[Cell, ...]
    met: int
    total: int
    credential_levels: frozenset[uuid.UUID]
    # Revoked credentials of levels with none standing now: the instructor must see them.
    revoked: tuple[CredentialView, ...] = ()

    @property
    def status(self) -> str:
        return status_of(self.met, self.total)

    @property
    def percent(self) -> int:
        return round(100 * self.met / self.total) if self.total else 0


@dataclass(frozen=True)
class Grid:
    scope: Scope
    levels: tuple[LevelScope, ...]  # shown (all linked levels, or the one chosen)
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    counts: Mapping[str, int]  # learners per status over the shown statements, before search
    matching: int  # learners matching the filter and search
    page: int
    pages: int
    per_page: int
    status: str
    search: str
    level_key: str | None
    pending_requests: int

    @property
    def learners(self) -> int:
        return sum(self.counts.values())


def grid(
    session: Session,
    scope: Scope,
    *,
    level_key: str | None = None,
    status: str = "all",
    search: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Grid:
    """One page of the roster x the link's statements (or one level's)."""
    level = scope.level(level_key)
    levels = (level,) if level is not None else scope.levels
    columns = tuple(st for lv in levels for st in lv.statements)
    ids = [c.id for c in columns]
    total = len(columns)
    per_page = max(1, min(per_page, MAX_PER_PAGE))

    everyone = roster(session, scope.context_id)
    counts_by_learner = _met_counts(session, [p.id for p in everyone], ids)
    counts = Counter(status_of(counts_by_learner.get(p.id, 0), total) for p in everyone)
    chosen = _filter_learners(everyone, counts_by_learner, total, status=status, search=search)
    pages = max(1, -(-len(chosen) // per_page))
    page = min(max(1, page), pages)
    shown = chosen[(page - 1) * per_page : page * per_page]
    shown_ids = [p.id for p in shown]

    signed = signed_cells(session, shown_ids, ids)
    requested, pending_total = _pending_requests(session, scope) if ids else ({}, 0)
    creds = credentials_of(session, shown_ids, [lv.id for lv in levels])
    rows = [
        _grid_row(person, columns, signed, requested, creds.get(person.id, ())) for person in shown
    ]
    return Grid(
        scope=scope,
        levels=tuple(levels),
        columns=columns,
        rows=tuple(rows),
        counts={s: counts.get(s, 0) for s in STATUSES},
        matching=len(chosen),
        page=page,
        pages=pages,
        per_page=per_page,
        status=status if status in STATUSES else "all",
        search=search.strip(),
        level_key=level.key if level is not None else None,
        pending_requests=pending_total,
    )


def _filter_learners(
    everyone: Sequence[Person],
    counts_by_learner: Mapping[int, int],
    total: int,
    *,
    status: str,
    search: str,
) -> list[Person]:
    """The learners with this status (any, if it is not one of STATUSES) matching the search."""
    needle = search.strip().casefold()
    return [
        p
        for p in everyone
        if (status not in STATUSES or status_of(counts_by_learner.get(p.id, 0), total) == status)
        and (not needle or p.matches(needle))
    ]


def _pending_requests(
    session: Session, scope: Scope
) -> tuple[dict[tuple[int, uuid.UUID], int], int]:
    """A pending request's id for each (learner, statement) of the link's statements, and how
    many requests are pending (nothing keeps a cell to one, so the two can differ)."""
    requested: dict[tuple[int, uuid.UUID], int] = {}
    pending_total = 0
    for request_id, learner_id, statement_id in session.execute(
        select(SignoffRequest.id, SignoffRequest.learner_id, SignoffRequest.statement_id).where(
            SignoffRequest.context_id == scope.context_id,
            SignoffRequest.statement_id.in_(scope.statement_ids),
            SignoffRequest.status == "pending",
        )
    ):
        pending_total += 1
        requested[(learner_id, statement_id)] = request_id
    return requested, pending_total


def _grid_row(
    person: Person,
    columns: Sequence[Column],
    signed: Mapping[tuple[int, uuid.UUID], Signed],
    requested: Mapping[tuple[int, uuid.UUID], int],
    credentials: Collection[CredentialView],
) -> Row:
    cells = tuple(
        Cell(c, signed.get((person.id, c.id)), requested.get((person.id, c.id))) for c in columns
    )
    return Row(
        learner=person,
        cells=cells,
        met=sum(1 for cell in cells if cell.signed is not None),
        total=len(columns),
        credential_levels=frozenset(c.level_id for c in credentials if c.live),
        revoked=_still_revoked(credentials),
    )


# -- requests queue ------------------------------------------------------------------------
def request_queue(session: Session, scope: Scope, *, status: str = "pending") -> list[RequestView]:
    """The course's requests on the link's statements, oldest first (pending) or newest first."""
    query = select(SignoffRequest).where(
        SignoffRequest.context_id == scope.context_id,
        SignoffRequest.statement_id.in_(scope.statement_ids),
        SignoffRequest.status == status,
    )
    order = SignoffRequest.id if status == "pending" else SignoffRequest.id.desc()
    return _request_views(session, query.order_by(order).limit(500))


# -- cohort -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatementStat:
    column: Column
    met: int
    learners: int

    @property
    def percent(self) -> float:
        return 100 * self.met / self.learners if self.learners else 0.0


@dataclass(frozen=True)
class LevelStat:
    level: LevelScope
    counts: Mapping[str, int]  # learners per status on this level


@dataclass(frozen=True)
class Cohort:
    scope: Scope
    learners: int
    statements: tuple[StatementStat, ...]
    levels: tuple[LevelStat, ...]


def cohort(session: Session, scope: Scope) -> Cohort:
    everyone = [p.id for p in roster(session, scope.context_id)]
    met = met_pairs(session, everyone, scope.statement_ids)
    per_statement: Counter[uuid.UUID] = Counter()
    for statements in met.values():
        per_statement.update(statements)
    stats = tuple(
        StatementStat(c, per_statement.get(c.id, 0), len(everyone)) for c in scope.statements
    )
    levels = []
    for lv in scope.levels:
        ids = {c.id for c in lv.statements}
        counts = Counter(status_of(len(met[p] & ids), len(ids)) for p in everyone)
        levels.append(LevelStat(lv, {s: counts.get(s, 0) for s in STATUSES}))
    return Cohort(scope=scope, learners=len(everyone), statements=stats, levels=tuple(levels))


def progress_csv(
    session: Session, scope: Scope, labels: Mapping[str, str] | None = None
) -> Iterator[str]:
    """The progress of every learner of the course, one row each; chunks of CSV text.

    Columns: name, email, per level "met/total" and "complete", then per statement the
    date (UTC, ISO 8601) it was signed off, empty if it is not met.
    """
    label = {
        "name": "Name",
        "email": "Email",
        "met": "met",
        "complete": "complete",
        "yes": "yes",
        "no": "no",
        **(labels or {}),
    }
    everyone = roster(session, scope.context_id)
    signed = signed_cells(session, [p.id for p in everyone], scope.statement_ids)
    buffer = io.StringIO()
    writer = csv_safe.writer(buffer)  # every field quoted, formula triggers neutralised
    header = [label["name"], label["email"]]
    for lv in scope.levels:
        header += [f"{lv.label}: {label['met']}", f"{lv.label}: {label['complete']}"]
    header += [f"{c.code} {c.competency}" for c in scope.statements]
    writer.writerow(csv_safe.row(header))
    yield "\ufeff" + buffer.getvalue()  # a BOM, so spreadsheet programs read UTF-8
    for person in everyone:
        buffer.seek(0)
        buffer.truncate()
        row: list[object] = [person.name, person.email or ""]
        for lv in scope.levels:
            done = sum(1 for c in lv.statements if (person.id, c.id) in signed)
            row += [
                f"{done}/{len(lv.statements)}",
                label["yes" if done == len(lv.statements) else "no"],
            ]
        for c in scope.statements:
            mark = signed.get((person.id, c.id))
            row.append(mark.at.strftime("%Y-%m-%dT%H:%M:%SZ") if mark else "")
        writer.writerow(csv_safe.row(row))
        yield buffer.getvalue()


# -- audit trail -----------------------------------------------------------------------------
_AUDIT_TRAIL_LIMIT = 1000


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    column: Column | None
    details: Mapping[str, Any]


def audit_trail(session: Session, scope: Scope, learner_id: int) -> list[AuditEntry]:
    """Who did what to this learner's records in this course, newest first: sign-offs,
    undos, requests and decisions, credentials issued and revoked."""
    actor = aliased(User)
    rows = session.execute(
        select(AuditEvent, actor.id, actor.name, actor.given_name, actor.family_name, actor.email)
        .outerjoin(actor, actor.id == AuditEvent.actor_id)
        .where(
            AuditEvent.subject_user_id == learner_id,
            or_(
                AuditEvent.context_id == scope.context_id,
                # Credential events may be recorded without a course: keep those of this link's levels.
                and_(
                    AuditEvent.context_id.is_(None),
                    AuditEvent.object_type == "credential",
                ),
            ),
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(_AUDIT_TRAIL_LIMIT)
    )
    entries = []
    for event, aid, name, given, family, email in rows:
        column = None
        if event.object_type == "statement" and event.object_id:
            try:
                column = scope.by_id.get(uuid.UUID(event.object_id))
            except ValueError:
                column = None
        who = (
            display_name(name, given, family, email, aid)
            if aid is not None
            else (event.actor_label or "system")
        )
        entries.append(
            AuditEntry(event.id, event.at, who, event.action, column, dict(event.details or {}))
        )
    return entries


def who_signed(
    session: Session, pairs: Sequence[tuple[int, uuid.UUID]]
) -> dict[tuple[int, uuid.UUID], Signed]:
    """For cells a bulk action skipped as already met: who signed them, and when."""
    learners = {learner for learner, _ in pairs}
    statements = {statement for _, statement in pairs}
    found = signed_cells(session, learners, statements)
    return {pair: found[pair] for pair in pairs if pair in found}
