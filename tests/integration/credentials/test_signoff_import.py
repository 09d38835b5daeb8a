"""`skillsign signoffs import FILE.csv`: checked first, written whole, idempotent."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path

from issuance_helpers import LMS, level_of
from sqlalchemy import func, select

from lti_app.db.models import (
    Context,
    Credential,
    Membership,
    SignoffEvent,
    User,
)
from lti_app.services import signoff_import
from lti_app.services import verification as verification_service

HEADER = list(signoff_import.COLUMNS)


def _csv(rows: list[dict[str, str]], header: list[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: row.get(key, "") for key in header})
    return out.getvalue()


def _row(course, sub: str, statement: str, **extra: str) -> dict[str, str]:
    values = {
        "platform_issuer": LMS,
        "user_id": sub,
        "name": f"Imported {sub}",
        "email": f"{sub}@example.edu",
        "context_id": "paper-course-7",
        "framework_id": course.version.identifier,
        "framework_version": course.version.version,
        "level": "emerging",
        "statement": statement,
        "signed_by": "R. Okafor (paper checklist)",
        "signed_at": f"2024-03-0{1 + int(statement) % 9 if statement.isdigit() else 1}",
        "note": "transcribed from the ward binder",
    }
    values.update(extra)
    return values


def _count(db, model) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def _import(runner, tmp_path: Path, text: str, *extra: str):
    path = tmp_path / "signoffs.csv"
    path.write_text(text, encoding="utf-8")
    return runner.invoke(args=["signoffs", "import", str(path), *extra])


def test_import_issues_credentials_for_completed_levels(runner, db, course, tmp_path) -> None:
    level = level_of(course)
    rows = [_row(course, "paper-1", str(p)) for p in range(1, 11)]  # complete
    rows += [_row(course, "paper-2", str(p)) for p in range(1, 6)]  # half
    # A statement may also be named by its id.
    rows[3]["statement"] = str(level.statements[3].id)
    result = _import(runner, tmp_path, _csv(rows), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["rows"] == 15 and report["signed"] == 15 and report["skipped"] == 0
    assert report["users_created"] == 2 and report["contexts_created"] == 1
    assert report["memberships_created"] == 2
    (credential_id,) = report["credentials_issued"]
    with db.transaction() as session:
        credential = session.get(Credential, uuid.UUID(credential_id))
        learner = session.get(User, credential.learner_id)
        assert (learner.issuer, learner.sub, learner.email) == (
            LMS,
            "paper-1",
            "paper-1@example.edu",
        )
        context = session.scalars(
            select(Context).where(Context.context_id == "paper-course-7")
        ).one()
        assert credential.context_id == context.id
        membership = session.scalars(
            select(Membership).where(Membership.user_id == learner.id)
        ).one()
        assert membership.is_learner and not membership.is_instructor
        events = session.scalars(
            select(SignoffEvent).where(SignoffEvent.learner_id == learner.id)
        ).all()
        assert {e.actor_label for e in events} == {"R. Okafor (paper checklist)"}
        assert {e.actor_id for e in events} == {None}
        assert min(e.signed_at for e in events).date().isoformat() == "2024-03-01"
        assert verification_service.verify(session, credential.document).status == "valid"
    # An imported sign-off is an instructor's; the paper's signer is not named.
    assert "R. Okafor" not in json.dumps(credential.document)
    days = {e.signed_at.date().isoformat() for e in events}
    for item in credential.document["evidence"]:
        prefix, _, day = item["description"].rpartition(" on ")
        assert prefix == "Observed and signed off by an instructor" and day.rstrip(".") in days
    assert "ward binder" not in json.dumps(credential.document)


def test_importing_twice_adds_nothing(runner, db, course, tmp_path) -> None:
    text = _csv([_row(course, "twice", str(p)) for p in range(1, 11)])
    first = _import(runner, tmp_path, text, "--json")
    assert first.exit_code == 0, first.output
    assert len(json.loads(first.output)["credentials_issued"]) == 1
    counts = (_count(db, SignoffEvent), _count(db, Credential), _count(db, User))
    second = _import(runner, tmp_path, text, "--json")
    assert second.exit_code == 0, second.output
    report = json.loads(second.output)
    assert (report["signed"], report["skipped"], report["credentials_issued"]) == (0, 10, [])
    assert (_count(db, SignoffEvent), _count(db, Credential), _count(db, User)) == counts
    # Even after a revocation the same file issues nothing new: its rows are already in.
    with db.transaction() as session:
        credential_id = session.scalar(select(Credential.id))
    assert (
        runner.invoke(
            args=["credentials", "revoke", str(credential_id), "--reason", "audit"]
        ).exit_code
        == 0
    )
    third = json.loads(_import(runner, tmp_path, text, "--json").output)
    assert third["credentials_issued"] == [] and third["signed"] == 0


def test_every_error_is_reported_and_nothing_written(runner, db, course, tmp_path) -> None:
    before = (_count(db, User), _count(db, SignoffEvent), _count(db, Context))
    rows = [
        _row(course, "ok-1", "1"),
        _row(course, "bad-date", "2", signed_at="03/04/2024"),
        _row(course, "bad-statement", "11"),
        _row(course, "bad-platform", "1", platform_issuer="https://unknown.example"),
        _row(course, "bad-level", "1", level="expert"),
        _row(course, "bad-version", "1", framework_version="9.9"),
        _row(course, "", "1", signed_by=""),
        _row(course, "bad-email", "1", email="not-an-address"),
        _row(course, "ok-1", "1", signed_at="2024-03-09"),  # duplicate of row 2
        _row(course, "future", "1", signed_at="2999-01-01"),
    ]
    result = _import(runner, tmp_path, _csv(rows))
    assert result.exit_code == 1
    out = result.output
    expected = [
        "row 3, column signed_at: '03/04/2024' is not a date",
        "row 4, column statement: '11' is neither a position 1-10",
        "row 5, column platform_issuer: no registered platform",
        "row 6, column level: no level 'expert'",
        "row 7, column framework_version: no imported framework",
        "row 8, column user_id: required, but empty",
        "row 8, column signed_by: required, but empty",
        "row 9, column email: 'not-an-address' is not an email address",
        "row 10, column statement: the same learner and statement as row 2",
        "row 11, column signed_at: 2999-01-01 is in the future",
    ]
    for line in expected:
        assert line in out, (line, out)
    assert "nothing was imported" in out
    assert (_count(db, User), _count(db, SignoffEvent), _count(db, Context)) == before


def test_header_problems(runner, course, tmp_path) -> None:
    header = [c for c in HEADER if c != "signed_by"] + ["grade"]
    result = _import(runner, tmp_path, _csv([_row(course, "h", "1")], header))
    assert result.exit_code == 1
    assert "row 1: missing column(s): signed_by" in result.output
    assert "row 1: unknown column(s): 'grade'" in result.output
    empty = _import(runner, tmp_path, "")
    assert empty.exit_code == 1 and "empty" in empty.output
    only_header = _import(runner, tmp_path, _csv([]))
    assert only_header.exit_code == 1 and "no rows" in only_header.output
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(_csv([_row(course, "é", "1")]).encode("latin-1"))
    not_utf8 = runner.invoke(args=["signoffs", "import", str(latin1)])
    assert not_utf8.exit_code == 1 and "not UTF-8" in not_utf8.output


def test_existing_people_keep_their_launch_data(runner, db, course, tmp_path) -> None:
    learner = course.learners[0]
    rows = [
        _row(
            course,
            learner.sub,
            str(p),
            name="Old Paper Name",
            email="old@example.org",
            context_id="course-1",
        )
        for p in range(1, 11)
    ]
    result = _import(runner, tmp_path, _csv(rows), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["users_created"], report["contexts_created"], report["memberships_created"]) == (
        0,
        0,
        0,
    )
    with db.transaction() as session:
        user = session.get(User, learner.id)
        assert (user.name, user.email) == (learner.name, learner.email)
        credential = session.get(Credential, uuid.UUID(report["credentials_issued"][0]))
        assert credential.learner_id == learner.id
        assert credential.context_id == course.context.id
