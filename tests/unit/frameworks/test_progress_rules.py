from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from frameworks import SignoffLogEntry, level_progress, met_statements, score

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def event(statement: uuid.UUID, action: str, seq: int) -> SignoffLogEntry:
    return SignoffLogEntry(statement, action, seq, T0 + timedelta(minutes=seq))  # type: ignore[arg-type]


def test_sign_undo_resign(build) -> None:
    fw = build([3])
    a, b, c = (s.id for s in fw.statements)
    log = [event(a, "sign", 1)]
    assert met_statements(log) == {a}
    log.append(event(a, "undo", 2))
    assert met_statements(log) == frozenset()
    log.append(event(b, "sign", 3))
    log.append(event(a, "sign", 4))
    assert met_statements(log) == {a, b}
    log.append(event(c, "undo", 5))  # undo of something never signed: still unmet
    assert met_statements(log) == {a, b}


def test_order_of_input_does_not_matter(build) -> None:
    fw = build([4])
    ids = [s.id for s in fw.statements]
    log = [
        event(ids[0], "sign", 1),
        event(ids[1], "sign", 2),
        event(ids[0], "undo", 3),
        event(ids[2], "sign", 4),
        event(ids[1], "undo", 5),
        event(ids[1], "sign", 6),
        event(ids[3], "sign", 7),
        event(ids[3], "undo", 8),
    ]
    expected = {ids[1], ids[2]}
    rng = random.Random(1)
    for _ in range(20):
        shuffled = log[:]
        rng.shuffle(shuffled)
        assert met_statements(shuffled) == expected
    assert met_statements(iter(log)) == expected  # any iterable, read once


def test_conflicting_events_at_one_seq_are_refused(build) -> None:
    sid = build([1]).statements[0].id
    same = event(sid, "sign", 1)
    assert met_statements([same, same]) == {sid}  # a repeated event is harmless
    with pytest.raises(ValueError, match="conflicting events at seq 1"):
        met_statements([same, event(sid, "undo", 1)])


def test_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError, match="action must be"):
        SignoffLogEntry(uuid.uuid4(), "approve", 1, T0)  # type: ignore[arg-type]


def test_level_progress_and_completeness(build) -> None:
    fw = build([3, 2])
    first, second = fw.levels
    met = {first.statements[0].id, first.statements[2].id, second.statements[0].id}
    progress = level_progress(first, met)
    assert (progress.level_key, progress.met, progress.total) == ("level-1", 2, 3)
    assert progress.fraction == pytest.approx(2 / 3)
    assert not progress.complete
    assert progress.missing == (first.statements[1].id,)

    met.add(first.statements[1].id)
    done = level_progress(first, met)
    assert done.complete
    assert done.fraction == 1.0
    assert done.missing == ()
    # Statements of other levels never count towards this one.
    assert level_progress(second, met).met == 1
    assert level_progress(second, set()).missing == tuple(s.id for s in second.statements)


def test_score_counts_linked_statements_once(build) -> None:
    fw = build([2, 2])
    ids = [s.id for s in fw.statements]
    met = {ids[0], ids[3]}
    assert score(ids, met) == (2, 4)
    assert score([ids[0], ids[1]], met) == (1, 2)
    assert score([ids[0], ids[0]], met) == (1, 1)
    assert score([], met) == (0, 0)
