"""A request that writes, then fails with a domain error, keeps nothing (docs/architecture.md
§3), on each instructor page that used to roll back by hand.

The failure is injected where a real one would surface: the service has written its rows
(flushed to the test database, as the ``wrote`` record shows) when the audit step refuses
with a ``Conflict``. The page then flashes the error and redirects, or shows it in place
with the error's status; either way the database must hold nothing of the request, the
page must show what is stored, and a flashed error must still reach the next page.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.checklist_world import Caller, World

from lti_app.db.models import AuditEvent, SignoffEvent, SignoffRequest
from lti_app.request_db import database
from lti_app.services import audit, signoff_requests, signoffs
from lti_app.services.errors import Conflict

REFUSAL = "The audit log refused this entry."


@dataclass(frozen=True)
class Place:
    """One former manual-rollback place: what it writes first, and how it answers."""

    refused_action: str  # the audit entry written right after the service's own write
    redirects: bool  # flash + 303, else the page again with the error's status
    act: Callable[[Caller, World, uuid.UUID, int | None], Any]


PLACES = {
    "grid sign": Place(
        "signoff.sign",
        True,
        lambda teacher, world, statement, _request: teacher.post(
            "/grid/sign",
            [
                ("learner", str(world.learner.id)),
                ("action", "statement"),
                ("statement", str(statement)),
            ],
        ),
    ),
    "learner sign": Place(
        "signoff.sign",
        False,
        lambda teacher, world, statement, _request: teacher.post(
            f"/learners/{world.learner.id}/sign", {"statement": str(statement)}
        ),
    ),
    "learner undo": Place(
        "signoff.undo",
        False,
        lambda teacher, world, statement, _request: teacher.post(
            f"/learners/{world.learner.id}/undo", {"statement": str(statement)}
        ),
    ),
    "approve request": Place(
        "signoff.sign",
        True,
        lambda teacher, _world, _statement, request_id: teacher.post(
            f"/requests/{request_id}/approve", {"comment": "Seen on the ward"}
        ),
    ),
    "decline request": Place(
        "request.decline",
        True,
        lambda teacher, _world, _statement, request_id: teacher.post(
            f"/requests/{request_id}/decline", {"comment": "Show it once more, please"}
        ),
    ),
}


def _stored(session: Session, world: World, statement: uuid.UUID) -> dict[str, Any]:
    """What the database holds about the learner's statement."""
    learner = world.learner.id
    return {
        "events": session.scalars(
            select(SignoffEvent.action)
            .where(SignoffEvent.learner_id == learner, SignoffEvent.statement_id == statement)
            .order_by(SignoffEvent.id)
        ).all(),
        "requests": session.scalars(
            select(SignoffRequest.status).where(SignoffRequest.learner_id == learner)
        ).all(),
        "audit": session.scalar(select(func.count()).select_from(AuditEvent)),
    }


def _state(page: str, statement: uuid.UUID) -> str:
    found = re.search(rf'id="st-{statement}" class="statement state-(\w+)"', page)
    assert found is not None, "the statement is not on the page"
    return found.group(1)


@pytest.mark.parametrize("name", list(PLACES))
def test_a_request_that_fails_after_writing_keeps_nothing(
    app, client, world, monkeypatch, name
) -> None:
    place = PLACES[name]
    statement = world.levels["emerging"][0]
    request_id = None
    with app.app_context(), database(app).transaction() as session:
        if name == "learner undo":  # something to undo
            signoffs.sign(
                session,
                actor_id=world.instructor.id,
                context_id=world.context_a,
                learner_ids=[world.learner.id],
                statement_ids=[statement],
            )
        if name.endswith("request"):
            request_id = signoff_requests.create(
                session,
                learner_id=world.learner.id,
                context_id=world.context_a,
                statement_id=statement,
                text="Done on Tuesday",
                allowed_statements=world.statements,
            ).id
    with app.app_context(), database(app).transaction() as session:
        before = _stored(session, world, statement)

    wrote: list[dict[str, Any]] = []
    record = audit.record

    def refusing(session: Session, action: str, **kwargs: Any) -> Any:
        if action == place.refused_action:
            session.flush()
            wrote.append(_stored(session, world, statement))  # the write, as the service sees it
            raise Conflict(REFUSAL)
        return record(session, action, **kwargs)

    monkeypatch.setattr(audit, "record", refusing)
    teacher = world.caller(client, world.instructor)
    answer = place.act(teacher, world, statement, request_id)

    assert wrote and wrote[0] != before, "the service wrote nothing before failing"
    with app.app_context(), database(app).transaction() as session:
        assert _stored(session, world, statement) == before
    if place.redirects:
        assert answer.status_code == 303
        shown = client.get(answer.headers["Location"]).text
        assert REFUSAL in shown  # the flash outlived the rolled-back request
    else:
        assert answer.status_code == Conflict.status
        assert REFUSAL in answer.text
        # The page was read after the rollback: it shows what is stored.
        assert _state(answer.text, statement) == ("met" if before["events"] else "not_yet")
