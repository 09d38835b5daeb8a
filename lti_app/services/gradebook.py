"""Grades for the LMS gradebook: the fraction of a link's statements a learner has met.

The score is always computed here, on the server, from the stored sign-off
events; nothing a browser sends is ever a score. ``enqueue_score`` writes the
AGS score to the outbox in the caller's transaction, so the sign-off and its
passback commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from frameworks import score as fraction_met
from lti_app.db import utcnow
from lti_app.db.models import Context, Membership, OutboxMessage, ResourceLink, User
from lti_app.lms import SCOPE_LINEITEM, SCOPE_SCORE
from lti_app.services import outbox
from lti_app.services.progress import cohort_met, linked_statement_ids, met_statement_ids

KIND = "ags_score"
# Our line items carry this tag, so we find them again among the course's others.
LINEITEM_TAG = "skillsign"


@dataclass(frozen=True, slots=True)
class Score:
    given: int  # statements met
    maximum: int  # statements linked

    @property
    def fraction(self) -> float:
        return self.given / self.maximum if self.maximum else 0.0

    @property
    def activity_progress(self) -> str:
        return "Completed" if self.maximum and self.given == self.maximum else "InProgress"


def compute_score(session: Session, learner_id: int, resource_link: ResourceLink) -> Score:
    statements = linked_statement_ids(session, resource_link)
    met = met_statement_ids(session, learner_id, statements)
    given, maximum = fraction_met(statements, met)
    return Score(given, maximum)


def dedupe_key(resource_link_pk: int, learner_id: int) -> str:
    return f"{KIND}:{resource_link_pk}:{learner_id}"


def _link_blocker(link: ResourceLink) -> str | None:
    """Why no score of this link can go to the LMS, whoever the learner; None if they can."""
    if not (link.lineitem_url or link.lineitems_url):
        return "the platform offers no grade service for this link"
    scopes = set(link.ags_scopes or ())
    if SCOPE_SCORE not in scopes:
        return "the platform did not grant the score scope"
    if not link.lineitem_url and SCOPE_LINEITEM not in scopes:
        return "the link has no line item and the platform does not let the tool create one"
    if link.framework_version_id is None:
        return "the link is not set up with a framework yet"
    return None


def _staff_blocker(membership: Membership | None) -> str | None:
    # Canvas refuses scores for anyone who is not a student; no LMS wants a grade for staff.
    if membership is not None and not membership.is_learner:
        return "the user is not a learner in this course"
    return None


def passback_blocker(session: Session, learner_id: int, link: ResourceLink) -> str | None:
    """Why this learner's score on this link cannot go to the LMS, or None if it can."""
    blocked = _link_blocker(link)
    if blocked is not None:
        return blocked
    membership = session.scalar(
        select(Membership).where(
            Membership.context_id == link.context_id, Membership.user_id == learner_id
        )
    )
    return _staff_blocker(membership)


def _payload(
    context: Context, link: ResourceLink, learner: User, score: Score, moment: datetime
) -> dict[str, Any]:
    levels = ",".join(link.level_keys or ()) or "*"
    return {
        "platform_id": context.platform_id,
        "resource_link_pk": link.id,
        "learner_id": learner.id,
        "resource_link_id": link.resource_link_id,
        "lineitem_url": link.lineitem_url,
        "lineitems_url": link.lineitems_url,
        "scopes": sorted(set(link.ags_scopes)),
        "label": link.title or "Competency checklist",
        "tag": LINEITEM_TAG,
        "resource_id": f"{link.framework_version_id}#{levels}",
        "score": {
            "userId": learner.sub,
            "scoreGiven": score.given,
            "scoreMaximum": score.maximum,
            "activityProgress": score.activity_progress,
            "gradingProgress": "FullyGraded",
            # Sub-second precision: the platform keeps the score with the latest timestamp.
            "timestamp": moment.isoformat(timespec="milliseconds"),
        },
    }


def score_payload(session: Session, learner: User, link: ResourceLink) -> dict[str, Any] | None:
    """Everything the worker needs to deliver this score, or None if it cannot go."""
    if passback_blocker(session, learner.id, link) is not None:
        return None
    score = compute_score(session, learner.id, link)
    if score.maximum == 0:
        return None
    context = session.get(Context, link.context_id)
    assert context is not None  # a foreign key
    return _payload(context, link, learner, score, utcnow())


def enqueue_score(session: Session, learner_id: int, resource_link_id: int) -> OutboxMessage | None:
    """Queue the learner's current score on a link (``resource_link_id`` is the row id).

    Call it in the transaction that wrote the sign-off event. Returns None when
    the score cannot go to the LMS (no grade service, staff member, no framework).
    """
    link = session.get(ResourceLink, resource_link_id)
    if link is None:
        raise LookupError(f"no resource link with id {resource_link_id}")
    learner = session.get(User, learner_id)
    if learner is None:
        raise LookupError(f"no user with id {learner_id}")
    payload = score_payload(session, learner, link)
    if payload is None:
        return None
    return outbox.enqueue(session, KIND, payload, dedupe_key=dedupe_key(link.id, learner.id))


_CHUNK = 1000  # learners per query


def enqueue_scores(session: Session, resource_link_id: int, learner_ids: Iterable[int]) -> int:
    """:func:`enqueue_score` for many learners of one link at a fixed number of statements
    (a whole column signed, an import): one query for the people, one for their roles, one
    for their progress, one batch into the outbox. Returns how many scores were queued."""
    link = session.get(ResourceLink, resource_link_id)
    if link is None:
        raise LookupError(f"no resource link with id {resource_link_id}")
    ids = sorted(set(learner_ids))
    learners: dict[int, User] = {}
    memberships: dict[int, Membership] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        learners.update((u.id, u) for u in session.scalars(select(User).where(User.id.in_(chunk))))
        if _link_blocker(link) is None:
            memberships.update(
                (m.user_id, m)
                for m in session.scalars(
                    select(Membership).where(
                        Membership.context_id == link.context_id, Membership.user_id.in_(chunk)
                    )
                )
            )
    missing = [i for i in ids if i not in learners]
    if missing:
        raise LookupError(f"no user with id {missing[0]}")
    if _link_blocker(link) is not None:
        return 0
    wanted = [i for i in ids if _staff_blocker(memberships.get(i)) is None]
    statements = linked_statement_ids(session, link)
    if not wanted or not statements:
        return 0
    met = cohort_met(session, wanted, statements)
    context = session.get(Context, link.context_id)
    assert context is not None  # a foreign key
    moment = utcnow()
    messages = []
    for learner_id in wanted:
        given, maximum = fraction_met(statements, met[learner_id])
        payload = _payload(context, link, learners[learner_id], Score(given, maximum), moment)
        messages.append((payload, dedupe_key(link.id, learner_id)))
    return outbox.enqueue_many(session, KIND, messages)
