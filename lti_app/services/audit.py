"""The audit trail: who did what, to whom, when. Append-only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from lti_app.db.models import AuditEvent


def record(
    session: Session,
    action: str,
    *,
    actor_id: int | None = None,
    actor_label: str | None = None,
    context_id: int | None = None,
    subject_user_id: int | None = None,
    object_type: str | None = None,
    object_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit row in the caller's transaction (it stands or falls with the change)."""
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        actor_label=actor_label,
        context_id=context_id,
        subject_user_id=subject_user_id,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=details or {},
    )
    session.add(event)
    return event


def record_many(session: Session, action: str, entries: Iterable[Mapping[str, Any]]) -> int:
    """Add one audit row per entry (the keyword arguments of :func:`record`) in one bulk
    INSERT; returns how many. For batch paths that would otherwise add thousands of objects."""
    rows = [
        {
            "action": action,
            "actor_id": entry.get("actor_id"),
            "actor_label": entry.get("actor_label"),
            "context_id": entry.get("context_id"),
            "subject_user_id": entry.get("subject_user_id"),
            "object_type": entry.get("object_type"),
            "object_id": None if entry.get("object_id") is None else str(entry["object_id"]),
            "details": entry.get("details") or {},
        }
        for entry in entries
    ]
    if rows:
        session.execute(insert(AuditEvent), rows)
    return len(rows)
