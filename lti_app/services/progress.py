"""Progress computed from the append-only sign-off log: THE progress query.

For each (learner, statement) the event with the highest ``id`` decides: a
"sign" means met, an "undo" means not met. This is the rule of
``frameworks.progress.met_statements``, done in SQL by :func:`latest_events_query`, the one
query every caller uses (the grid, a learner's page, awarding and its evidence, bulk
sign-off, the CSV import, requests, grade passback), in the shape it needs: the deciding
events (:func:`latest_events`), the met pairs (:func:`cohort_met`), or counts per learner
(:func:`met_counts`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.orm import Session, aliased

from lti_app.db.models import FrameworkLevel, ResourceLink, SignoffEvent, Statement, User

_CHUNK = 5000  # learners per query


class LinkConfigurationError(ValueError):
    """A resource link names a level its pinned framework version does not have."""


@dataclass(frozen=True, slots=True)
class Latest:
    """The event that decides a (learner, statement) pair now."""

    event_id: int
    action: str  # "sign" | "undo"
    signed_at: datetime
    actor_id: int | None
    actor_label: str | None
    note: str | None  # private to instructors

    @property
    def met(self) -> bool:
        return self.action == "sign"


def latest_events_query(
    learner_ids: Collection[int], statement_ids: Collection[uuid.UUID], *, lateral: bool
) -> Select[int, uuid.UUID, int, str, datetime, int | None, str | None, str | None]:
    """THE progress query: the deciding event of each (learner, statement) pair of
    ``learner_ids`` x ``statement_ids`` that has any event, as rows of learner_id,
    statement_id, event_id, action, signed_at, actor_id, actor_label, note.

    One probe per pair, whatever the length of its history: the pairs come from the
    primary keys of ``users`` and ``statements``, and each pair's newest event is one
    backward step into the index (learner_id, statement_id, id). On PostgreSQL
    (``lateral``) the probe is a LATERAL join, so the plan is a nested loop of index scans
    whatever the planner's statistics say; the correlated subquery + primary-key join of
    the other form let a freshly loaded table be read whole into a hash, as "join back on
    max(id)" and a window over the cohort's events could (bench/explain_progress.py,
    bench/README.md). SQLite has no LATERAL and only nested loops: there the subquery form
    makes the same plan.
    """
    event: type[SignoffEvent]
    on: ColumnElement[bool]
    if lateral:
        newest = (
            select(SignoffEvent)
            .where(SignoffEvent.learner_id == User.id, SignoffEvent.statement_id == Statement.id)
            .order_by(SignoffEvent.id.desc())
            .limit(1)
            .lateral("newest")
        )
        event, on = aliased(SignoffEvent, newest), true()
    else:
        newer = aliased(SignoffEvent)
        newest_id = (
            select(newer.id)
            .where(newer.learner_id == User.id, newer.statement_id == Statement.id)
            .order_by(newer.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        event, on = SignoffEvent, SignoffEvent.id == newest_id
    return (
        select(
            User.id.label("learner_id"),
            Statement.id.label("statement_id"),
            event.id.label("event_id"),
            event.action,
            event.signed_at,
            event.actor_id,
            event.actor_label,
            event.note,
        )
        .select_from(User)
        .join(Statement, true())
        .join(event, on)
        .where(User.id.in_(sorted(set(learner_ids))), Statement.id.in_(sorted(set(statement_ids))))
    )


def _chunks(values: Iterable[int]) -> Iterator[list[int]]:
    """Learners per query: pairs stay a few hundred thousand at most, and bound
    parameters far below SQLite's 32766 and PostgreSQL's 65535."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def latest_events(
    session: Session, learner_ids: Iterable[int], statement_ids: Iterable[uuid.UUID]
) -> dict[tuple[int, uuid.UUID], Latest]:
    """The deciding event of each (learner, statement) pair that has one (pairs with none
    are absent), with who and when: for pages that show a page of learners, evidence, and
    reading back the ids of events just written."""
    statements = set(statement_ids)
    lateral = _lateral(session)
    found: dict[tuple[int, uuid.UUID], Latest] = {}
    for chunk in _chunks(learner_ids) if statements else ():
        rows = session.execute(latest_events_query(chunk, statements, lateral=lateral))
        for learner_id, statement_id, event_id, action, at, actor_id, label, note in rows:
            found[(learner_id, statement_id)] = Latest(event_id, action, at, actor_id, label, note)
    return found


def cohort_met(
    session: Session, learner_ids: Iterable[int], statement_ids: Iterable[uuid.UUID]
) -> dict[int, frozenset[uuid.UUID]]:
    """Met statements per learner (every learner asked for is a key): the same query,
    reading only the met pairs' ids."""
    learners = set(learner_ids)
    statements = set(statement_ids)
    met: dict[int, set[uuid.UUID]] = {learner: set() for learner in learners}
    lateral = _lateral(session)
    for chunk in _chunks(learners) if statements else ():
        latest = latest_events_query(chunk, statements, lateral=lateral).subquery()
        rows = session.execute(
            select(latest.c.learner_id, latest.c.statement_id).where(latest.c.action == "sign")
        )
        for learner_id, statement_id in rows:
            met[learner_id].add(statement_id)
    return {learner: frozenset(ids) for learner, ids in met.items()}


def met_counts(
    session: Session, learner_ids: Iterable[int], statement_ids: Iterable[uuid.UUID]
) -> dict[int, int]:
    """How many of the statements each learner has met (learners with none are absent):
    the same query, counted by the database, so a roster of 500 x 40 returns 500 rows."""
    statements = set(statement_ids)
    lateral = _lateral(session)
    counts: dict[int, int] = {}
    for chunk in _chunks(learner_ids) if statements else ():
        latest = latest_events_query(chunk, statements, lateral=lateral).subquery()
        rows = session.execute(
            select(latest.c.learner_id, func.count())
            .where(latest.c.action == "sign")
            .group_by(latest.c.learner_id)
        )
        counts.update((learner_id, count) for learner_id, count in rows)
    return counts


def met_statement_ids(
    session: Session, learner_id: int, statement_ids: Iterable[uuid.UUID]
) -> frozenset[uuid.UUID]:
    """The statements among ``statement_ids`` that this learner has met now."""
    return cohort_met(session, [learner_id], statement_ids)[learner_id]


def _lateral(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def linked_statement_ids(session: Session, resource_link: ResourceLink) -> list[uuid.UUID]:
    """The statements a resource link covers, in framework order.

    The linked levels of the pinned framework version; no level keys with a
    framework set means the whole framework; no framework means nothing yet.
    """
    version_id = resource_link.framework_version_id
    if version_id is None:
        return []
    wanted: Collection[str] = tuple(resource_link.level_keys or ())
    query = (
        select(Statement.id, FrameworkLevel.key)
        .join(FrameworkLevel, Statement.level_id == FrameworkLevel.id)
        .where(Statement.framework_version_id == version_id)
        .order_by(FrameworkLevel.position, Statement.position)
    )
    if wanted:
        query = query.where(FrameworkLevel.key.in_(wanted))
    rows = session.execute(query).all()
    if wanted:
        found = {key for _, key in rows}
        missing = [key for key in wanted if key not in found]
        if missing:
            # Links are validated when made and versions never change, so this is a bug or
            # a hand-edited row: say exactly what is wrong rather than grade against less.
            raise LinkConfigurationError(
                f"resource link {resource_link.id} names level(s) {', '.join(map(repr, missing))} "
                f"that framework version {version_id} does not have"
            )
    return [statement_id for statement_id, _ in rows]
