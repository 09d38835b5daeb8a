"""Pure progress rules over the append-only sign-off log.

A sign-off is never deleted: undoing one appends an "undo" event. For each
statement the event with the highest sequence number decides whether it is met.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .model import Level

Action = Literal["sign", "undo"]
_ACTIONS = ("sign", "undo")


@dataclass(frozen=True, slots=True)
class SignoffLogEntry:
    """One entry of the sign-off log as the pure rule reads it (not the database row)."""

    statement_id: uuid.UUID
    action: Action
    seq: int  # position in the log; higher wins
    at: datetime

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise ValueError(f"action must be 'sign' or 'undo', got {self.action!r}")


@dataclass(frozen=True, slots=True)
class LevelProgress:
    level_key: str
    met: int
    total: int
    fraction: float  # met / total, 0.0 .. 1.0
    complete: bool
    missing: tuple[uuid.UUID, ...]  # unmet statements, in level order


def met_statements(events: Iterable[SignoffLogEntry]) -> frozenset[uuid.UUID]:
    """Statements whose latest event (highest seq, in any input order) is a sign."""
    latest: dict[uuid.UUID, SignoffLogEntry] = {}
    for event in events:
        current = latest.get(event.statement_id)
        if current is None or event.seq > current.seq:
            latest[event.statement_id] = event
        elif event.seq == current.seq and event.action != current.action:
            # Two different outcomes at one log position: the log is corrupt.
            raise ValueError(
                f"statement {event.statement_id} has conflicting events at seq {event.seq}"
            )
    return frozenset(sid for sid, event in latest.items() if event.action == "sign")


def level_progress(level: Level, met: AbstractSet[uuid.UUID]) -> LevelProgress:
    missing = tuple(s.id for s in level.statements if s.id not in met)
    total = len(level.statements)
    done = total - len(missing)
    return LevelProgress(
        level_key=level.key,
        met=done,
        total=total,
        fraction=done / total if total else 0.0,
        complete=total > 0 and not missing,
        missing=missing,
    )


def score(statement_ids: Sequence[uuid.UUID], met: AbstractSet[uuid.UUID]) -> tuple[int, int]:
    """(met, total) over the linked statements, each counted once, for grade passback."""
    linked = set(statement_ids)
    return len(linked & met), len(linked)
