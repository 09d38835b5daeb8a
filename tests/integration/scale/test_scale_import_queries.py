"""A bulk import costs the same number of SQL statements for 3 learners as for 12.

The backfill path writes every event, audit row and credential of a file in batches; one
query per row or per learner would make 1,000 credentials take minutes again
(bench/bench_issuance.py measures the time; this counts statements and never times them).
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import event, func, select
from support.lti_rows import make_course

from lti_app.db.models import AuditEvent, Credential, OutboxMessage, SignoffEvent
from lti_app.services import signoff_import

LMS = "https://lms.scale.example"


class StatementCounter:
    """Counts the statements an engine sends while active."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.count = 0

    def _seen(self, *_args, **_kwargs) -> None:
        self.count += 1

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def _csv(version, learners: list[str]) -> str:
    level = next(lv for lv in version.levels if lv.key == "emerging")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(signoff_import.COLUMNS)
    for sub in learners:
        for statement in level.statements:
            writer.writerow(
                [
                    LMS,
                    sub,
                    f"Learner {sub}",
                    f"{sub}@example.edu",
                    "course-1",  # the course of the fixture: its link takes the scores
                    version.identifier,
                    version.version,
                    level.key,
                    statement.position,
                    "R. Okafor (paper checklist)",
                    # Each learner's sign-offs on several days: several records per learner.
                    f"2024-03-0{1 + statement.position % 5}",
                    "",
                ]
            )
    return out.getvalue()


@pytest.fixture
def version(db):
    with db.transaction() as session:
        course = make_course(
            session,
            issuer=LMS,
            client_id="scale-client",
            token_url=f"{LMS}/token",
            lineitems_url=f"{LMS}/api/lti/courses/1/line_items",
            learners=0,
        )
        for level in course.version.levels:
            assert level.statements  # loaded while the session is open
        return course.version


def _import(db, data: str) -> tuple[int, signoff_import.ImportReport]:
    with StatementCounter(db.engine) as counter, db.transaction() as session:
        report = signoff_import.run(session, data)
    return counter.count, report


def _count(db, model) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_import_statements_do_not_grow_with_learners(db, version) -> None:
    # The first import also makes what every later one finds: the course, the status list.
    _import(db, _csv(version, ["first"]))
    small, small_report = _import(db, _csv(version, [f"small-{n}" for n in range(3)]))
    large, large_report = _import(db, _csv(version, [f"large-{n}" for n in range(12)]))
    # Every learner completed the level: each got a credential, its outbox and audit rows,
    # and one score for the link (a learner's scores collapse into the newest).
    assert len(small_report.credentials) == 3 and len(large_report.credentials) == 12
    assert large_report.signed == 12 * 10 and large_report.users_created == 12
    assert large_report.memberships_created == 12
    assert _count(db, Credential) == 16
    assert _count(db, SignoffEvent) == 160
    with db.transaction() as session:
        scores = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "ags_score")
        ).all()
    assert len(scores) == 16
    assert {m.payload["score"]["scoreGiven"] for m in scores} == {10}
    assert _count(db, OutboxMessage) == 16 + 16
    assert _count(db, AuditEvent) == 160 + 16
    assert small == large, (small, large)


def test_bulk_audit_rows_name_their_events(db, version) -> None:
    _import(db, _csv(version, [f"learner-{n}" for n in range(4)]))
    with db.transaction() as session:
        events = {e.id: e for e in session.scalars(select(SignoffEvent))}
        audits = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "signoff.sign")
        ).all()
        assert len(audits) == len(events) == 40
        assert {a.details["event_id"] for a in audits} == set(events)
        for audit in audits:
            event = events[audit.details["event_id"]]
            assert (event.learner_id, str(event.statement_id)) == (
                audit.subject_user_id,
                audit.object_id,
            )


def test_reimport_statements_do_not_grow_with_learners(db, version) -> None:
    small_file = _csv(version, [f"small-{n}" for n in range(3)])
    large_file = _csv(version, [f"large-{n}" for n in range(12)])
    _import(db, small_file)
    _import(db, large_file)
    small, small_report = _import(db, small_file)
    large, large_report = _import(db, large_file)
    assert (small_report.skipped, large_report.skipped) == (30, 120)
    assert small_report.credentials == large_report.credentials == []
    assert small == large, (small, large)
