"""Progress computed from the append-only sign-off log.

For each (learner, statement) the event with the highest ``id`` decides: a
"sign" means met, an "undo" means not met. This is the rule of
``frameworks.progress.met_statements``, done in SQL so a cohort grid (500
learners x 40 statements) costs one query instead of one per learner.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from lti_app.db.models import FrameworkLevel, ResourceLink, SignoffEvent, Statement

# Bound parameters per query stay far below SQLite's 32766 and PostgreSQL's 65535.
_CHUNK = 5000


class LinkConfigurationError(ValueError):
    """A resource link names a level its pinned framework version does not have."""


def _chunks(values: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def cohort_met(
    session: Session, learner_ids: Iterable[int], statement_ids: Iterable[uuid.UUID]
) -> dict[int, frozenset[uuid.UUID]]:
    """Met statements per learner (every learner asked for is a key).

    One query for any cohort up to a few thousand learners; the statement list
    is a link's or a level's, so it is always small.
    """
    learners = sorted(set(learner_ids))
    statements = sorted(set(statement_ids))
    met: dict[int, set[uuid.UUID]] = {learner: set() for learner in learners}
    if not learners or not statements:
        return {learner: frozenset() for learner in learners}
    for chunk in _chunks(learners, _CHUNK):
        latest = (
            select(func.max(SignoffEvent.id).label("id"))
            .where(SignoffEvent.learner_id.in_(chunk), SignoffEvent.statement_id.in_(statements))
            .group_by(SignoffEvent.learner_id, SignoffEvent.statement_id)
            .subquery()
        )
        rows = session.execute(
            select(SignoffEvent.learner_id, SignoffEvent.statement_id).join(
                latest, and_(SignoffEvent.id == latest.c.id, SignoffEvent.action == "sign")
            )
        )
        for learner_id, statement_id in rows:
            met[learner_id].add(statement_id)
    return {learner: frozenset(ids) for learner, ids in met.items()}


def met_statement_ids(
    session: Session, learner_id: int, statement_ids: Iterable[uuid.UUID]
) -> frozenset[uuid.UUID]:
    """The statements among ``statement_ids`` that this learner has met now."""
    return cohort_met(session, [learner_id], statement_ids)[learner_id]


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
