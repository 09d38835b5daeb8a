"""Database-backed LTI state: nonces once, states once, TTLs, pylti1p3's launch data."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from lti_app.db import utcnow
from lti_app.db.models import LaunchData, Nonce
from lti_app.lti import storage


def test_a_nonce_is_accepted_once(db):
    until = utcnow() + timedelta(minutes=5)
    with db.transaction() as s:
        assert storage.consume_nonce(s, "n-1", "https://lms.example", until)
    with db.transaction() as s:
        assert not storage.consume_nonce(s, "n-1", "https://lms.example", until)
        assert storage.consume_nonce(s, "n-2", "https://lms.example", until)
        # Stored hashed: the raw nonce is not in the table.
        assert "n-1" not in s.scalars(select(Nonce.nonce)).all()


def test_a_state_is_taken_once_and_expires(db):
    with db.transaction() as s:
        storage.save_state(s, "state-1", {"nonce": "x"})
    with db.transaction() as s:
        assert storage.take_state(s, "state-1") == {"nonce": "x"}
        assert storage.take_state(s, "state-1") is None
    with db.transaction() as s:
        storage.put_value(s, storage.state_key("old"), {"nonce": "y"}, timedelta(seconds=-1))
        assert storage.take_state(s, "old") is None  # expired rows are never handed out


def test_purge_removes_only_expired_rows(db):
    with db.transaction() as s:
        storage.put_value(s, "live", {"v": 1}, timedelta(minutes=5))
        storage.put_value(s, "dead", {"v": 1}, timedelta(seconds=-5))
        storage.consume_nonce(s, "old", "iss", utcnow() - timedelta(seconds=1))
        storage.consume_nonce(s, "new", "iss", utcnow() + timedelta(minutes=1))
    with db.transaction() as s:
        assert storage.purge_expired(s) == 2
        assert s.scalars(select(LaunchData.key)).all() == ["live"]
        assert len(s.scalars(select(Nonce)).all()) == 1


def test_pylti1p3_launch_data_round_trip(db):
    with db.transaction() as s:
        store = storage.DbLaunchDataStorage(s)
        store.set_value("lti1p3-launch-1", {"iss": "x"}, exp=60)
        assert store.check_value("lti1p3-launch-1")
        assert store.get_value("lti1p3-launch-1") == {"iss": "x"}
        assert store.get_value("missing") is None
