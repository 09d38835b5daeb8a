"""What a bulk sign-off will do, counted before it is done: the confirmation page and the
action that follows it read the same plan, so the page says exactly what the button does.

- statements and learners are counted apart ("1 statement for 5 learners"), and the cells
  (sign-offs) are the pairs still to sign;
- cells already met are left as they are, and said so in one line;
- cells whose latest request was declined are left out of a bulk action unless the
  instructor picked those cells one by one;
- levels a learner completes are counted: each issues a credential, so the page says so.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from lti_app.services import checklists, progress, signoff_requests

Plan = dict[int, list[uuid.UUID]]


@dataclass
class Preview:
    plan: Plan  # what will be signed: the asked plan less met and declined cells
    statements: int  # distinct statements asked for
    learners: int  # learners asked for
    already_met: list[tuple[int, uuid.UUID]] = field(default_factory=list)
    declined: list[tuple[int, uuid.UUID]] = field(default_factory=list)
    completes: int = 0  # (learner, level) pairs that become complete: credentials issued

    @property
    def cells(self) -> int:
        return sum(len(v) for v in self.plan.values())


def preview(session: Session, scope: checklists.Scope, asked: Plan, *, picked: bool) -> Preview:
    """The plan as it will run. ``picked``: the instructor chose these cells one by one
    (their declined cells are kept); otherwise declined cells are left out."""
    learners = set(asked)
    statements = {s for ids in asked.values() for s in ids}
    level_statements = {level.key: {c.id for c in level.statements} for level in scope.levels}
    met = progress.cohort_met(
        session, learners, set().union(statements, *level_statements.values())
    )
    declined = (
        set()
        if picked
        else signoff_requests.declined_pairs(
            session, context_id=scope.context_id, learner_ids=learners, statement_ids=statements
        )
    )
    result = Preview(plan={}, statements=len(statements), learners=len(learners))
    for learner_id, wanted in asked.items():
        todo = []
        for statement_id in dict.fromkeys(wanted):
            if statement_id in met[learner_id]:
                result.already_met.append((learner_id, statement_id))
            elif (learner_id, statement_id) in declined:
                result.declined.append((learner_id, statement_id))
            else:
                todo.append(statement_id)
        if todo:
            result.plan[learner_id] = todo
        after = met[learner_id] | set(todo)
        result.completes += sum(
            1
            for ids in level_statements.values()
            if ids and not ids <= met[learner_id] and ids <= after
        )
    return result
