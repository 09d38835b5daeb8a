"""Backfill sign-offs from a CSV file (paper checklists, another system).

Columns: ``platform_issuer, user_id, name, email, context_id, framework_id, framework_version,
level, statement, signed_by, signed_at, note``. ``user_id`` is the learner's LTI ``sub`` on that
platform; ``statement`` is a 1-based position in the level or a statement id.

Every row is checked before anything is written; errors name the row (the header is row 1) and
the column, all of them at once. Then the whole file is applied in the caller's transaction,
through the sign-off service, so completed levels are awarded their credentials exactly as if
an instructor had signed them in the app.

The platform must be registered. ``platform_issuer`` is half of a learner's identity (issuer +
sub): a placeholder platform for an unknown issuer would turn every typo into a ghost learner
whom no launch ever finds, and leave a half-configured platform in the registry.

Importing the same file again writes nothing: each event's ``source_key`` is a hash of its row
(issuer, user, course, signer, time, note) plus the learner and statement, and rows whose key
is already stored are skipped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from credentials.fields import EMAIL
from lti_app.db import utcnow
from lti_app.db.models import (
    Context,
    Credential,
    FrameworkLevel,
    FrameworkVersion,
    Membership,
    Platform,
    SignoffEvent,
    Statement,
    User,
)
from lti_app.services import signoffs
from lti_app.services.errors import AppError

COLUMNS = (
    "platform_issuer",
    "user_id",
    "name",
    "email",
    "context_id",
    "framework_id",
    "framework_version",
    "level",
    "statement",
    "signed_by",
    "signed_at",
    "note",
)
REQUIRED = (
    "platform_issuer",
    "user_id",
    "framework_id",
    "level",
    "statement",
    "signed_by",
    "signed_at",
)
LIMITS = {
    "platform_issuer": 512,
    "user_id": 255,
    "name": 512,
    "email": 512,
    "context_id": 255,
    "signed_by": 512,
    "note": signoffs.NOTE_LIMIT,
}
LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
MAX_BYTES = 64 * 1024 * 1024
MAX_ERRORS_SHOWN = 100
_CLOCK_SKEW = timedelta(minutes=5)
_CHUNK = 500


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class ImportInvalid(AppError):
    """The file has errors; nothing was written."""

    code = "import.invalid"

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        shown = "\n".join(str(e) for e in errors[:MAX_ERRORS_SHOWN])
        more = len(errors) - MAX_ERRORS_SHOWN
        if more > 0:
            shown += f"\n... and {more} more"
        super().__init__(f"{len(errors)} error(s); nothing was imported:\n{shown}")


@dataclass
class Row:
    number: int
    issuer: str
    sub: str
    name: str | None
    email: str | None
    context_id: str | None
    statement: Statement
    signed_by: str
    signed_at: datetime
    note: str | None

    def group_key(self) -> str:
        """A stable hash of everything in the row but the statement (the sign-off service
        appends learner and statement to make each event's key)."""
        parts = (
            self.issuer,
            self.sub,
            self.context_id or "",
            self.signed_by,
            self.signed_at.isoformat(),
            self.note or "",
        )
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        return f"csv:{digest}"


@dataclass
class ImportReport:
    rows: int = 0
    signed: int = 0  # new sign-off events
    skipped: int = 0  # rows imported before (same source key)
    already_met: int = 0  # statements already signed off by other means
    users_created: int = 0
    contexts_created: int = 0
    memberships_created: int = 0
    credentials: list[Credential] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "signed": self.signed,
            "skipped": self.skipped,
            "already_met": self.already_met,
            "users_created": self.users_created,
            "contexts_created": self.contexts_created,
            "memberships_created": self.memberships_created,
            "credentials_issued": [str(c.id) for c in self.credentials],
        }


# --------------------------------------------------------------------------- reading


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    if len(data) > MAX_BYTES:
        raise ImportInvalid([RowError(0, None, f"the file is larger than {MAX_BYTES} bytes")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportInvalid(
            [RowError(0, None, f"the file is not UTF-8 (byte {error.start}); save it as UTF-8")]
        ) from None


def _parse_when(value: str) -> datetime:
    text = value.strip()
    if len(text) == 10:  # a date alone means midnight UTC
        text += "T00:00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class _Lookups:
    """Framework versions, levels and platforms, each read once per import."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.versions: dict[tuple[str, str], FrameworkVersion | None] = {}
        self.platforms: dict[str, list[Platform]] = {}

    def version(self, framework: str, version: str) -> FrameworkVersion | None:
        key = (framework, version)
        if key not in self.versions:
            found: FrameworkVersion | None = None
            try:
                found = self.session.get(FrameworkVersion, uuid.UUID(framework))
                if found is not None and version and found.version != version:
                    found = None
            except ValueError:
                if version:
                    found = self.session.scalars(
                        select(FrameworkVersion).where(
                            FrameworkVersion.identifier == framework,
                            FrameworkVersion.version == version,
                        )
                    ).first()
            self.versions[key] = found
        return self.versions[key]

    def platforms_for(self, issuer: str) -> list[Platform]:
        if issuer not in self.platforms:
            self.platforms[issuer] = list(
                self.session.scalars(
                    select(Platform).where(Platform.issuer == issuer).order_by(Platform.id)
                )
            )
        return self.platforms[issuer]


def _level(version: FrameworkVersion, ref: str) -> FrameworkLevel | None:
    for level in version.levels:
        if level.key == ref:
            return level
    folded = ref.casefold()
    matches = [lv for lv in version.levels if lv.label.casefold() == folded]
    return matches[0] if len(matches) == 1 else None


def _statement(level: FrameworkLevel, ref: str) -> Statement | None:
    if ref.isdigit() and ref.isascii():
        position = int(ref)
        return next((st for st in level.statements if st.position == position), None)
    try:
        wanted = uuid.UUID(ref)
    except ValueError:
        return None
    return next((st for st in level.statements if st.id == wanted), None)


def parse(session: Session, data: bytes | str) -> list[Row]:
    """Every row checked against the database (read only); ImportInvalid lists all errors."""
    reader = csv.reader(io.StringIO(_text(data), newline=""))
    names = _header(reader)
    checker = _RowChecker(session)
    try:
        records = list(reader)
    except csv.Error as error:
        raise ImportInvalid([RowError(reader.line_num, None, f"not valid CSV: {error}")]) from None
    rows: list[Row] = []
    errors: list[RowError] = []
    for number, record in enumerate(records, start=2):  # the header is row 1
        if not any(cell.strip() for cell in record):
            continue  # blank line
        if len(record) != len(names):
            errors.append(
                RowError(number, None, f"{len(record)} cells; the header has {len(names)}")
            )
            continue
        values = {name: cell.strip() for name, cell in zip(names, record, strict=True)}
        row, row_errors = checker.check(number, values)
        errors.extend(row_errors)
        if row is not None:
            rows.append(row)
    if errors:
        raise ImportInvalid(errors)
    if not rows:
        raise ImportInvalid([RowError(2, None, "the file has a header but no rows")])
    return rows


def _header(reader: Iterator[list[str]]) -> list[str]:
    """The column names of the header row, each known and given once."""
    try:
        header = next(reader)
    except StopIteration:
        raise ImportInvalid(
            [RowError(1, None, "the file is empty: expected a header row")]
        ) from None
    except csv.Error as error:
        raise ImportInvalid([RowError(1, None, f"not valid CSV: {error}")]) from None
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [h for h in names if h not in COLUMNS]
    duplicated = sorted({h for h in names if names.count(h) > 1})
    errors: list[RowError] = []
    if missing:
        errors.append(RowError(1, None, f"missing column(s): {', '.join(missing)}"))
    if unknown:
        errors.append(RowError(1, None, f"unknown column(s): {', '.join(map(repr, unknown))}"))
    if duplicated:
        errors.append(RowError(1, None, f"column(s) given twice: {', '.join(duplicated)}"))
    if errors:
        raise ImportInvalid(errors)
    return names


_Fail = Callable[[str, str], None]


class _RowChecker:
    """The checks of one data row, with what the rows before it left (learners' emails,
    learner + statement pairs already seen)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.lookups = _Lookups(session)
        self.seen: dict[tuple[str, str, uuid.UUID], int] = {}
        self.emails: dict[tuple[str, str], tuple[str, int]] = {}
        self.now = utcnow()

    def check(self, number: int, values: dict[str, str]) -> tuple[Row | None, list[RowError]]:
        """The row, or None and its errors in column order of the checks."""
        errors: list[RowError] = []

        def fail(column: str, message: str) -> None:
            errors.append(RowError(number, column, message))

        _check_cells(values, fail)
        issuer, sub = values["platform_issuer"], values["user_id"]
        self._check_platform(values, fail)
        email = self._email(number, values, fail)
        signed_at = self._signed_at(values["signed_at"], fail)
        statement = self._statement(values, fail)
        if statement is not None and issuer and sub:
            key = (issuer, sub, statement.id)
            if key in self.seen:
                fail("statement", f"the same learner and statement as row {self.seen[key]}")
            else:
                self.seen[key] = number
        if errors:
            return None, errors
        assert statement is not None and signed_at is not None
        row = Row(
            number=number,
            issuer=issuer,
            sub=sub,
            name=values["name"] or None,
            email=email,
            context_id=values["context_id"] or None,
            statement=statement,
            signed_by=values["signed_by"],
            signed_at=signed_at,
            note=values["note"] or None,
        )
        return row, errors

    def _check_platform(self, values: dict[str, str], fail: _Fail) -> None:
        issuer, context_id = values["platform_issuer"], values["context_id"]
        if not issuer:
            return
        platforms = self.lookups.platforms_for(issuer)
        if not platforms:
            fail(
                "platform_issuer",
                f"no registered platform has issuer {issuer!r}; register it first "
                "(skillsign platforms add)",
            )
        elif (
            context_id
            and len(platforms) > 1
            and _existing_context(self.session, platforms, context_id) is None
        ):
            fail(
                "context_id",
                f"course {context_id!r} does not exist yet and issuer {issuer!r} "
                "has several registered platforms: launch the course once first",
            )

    def _email(self, number: int, values: dict[str, str], fail: _Fail) -> str | None:
        email = values["email"] or None
        issuer, sub = values["platform_issuer"], values["user_id"]
        if email and not EMAIL.match(email):
            fail("email", f"{email!r} is not an email address")
        elif email and issuer and sub:
            earlier = self.emails.setdefault((issuer, sub), (email.lower(), number))
            if earlier[0] != email.lower():
                fail("email", f"differs from the email given for this user in row {earlier[1]}")
        return email

    def _signed_at(self, value: str, fail: _Fail) -> datetime | None:
        if not value:
            return None
        try:
            signed_at = _parse_when(value)
        except ValueError:
            fail(
                "signed_at",
                f"{value!r} is not a date or date-time such as 2024-05-01 or 2024-05-01T14:30:00Z",
            )
            return None
        if signed_at > self.now + _CLOCK_SKEW:
            fail("signed_at", f"{value} is in the future")
        return signed_at

    def _statement(self, values: dict[str, str], fail: _Fail) -> Statement | None:
        framework, wanted_version = values["framework_id"], values["framework_version"]
        if not framework:
            return None
        version = self.lookups.version(framework, wanted_version)
        if version is None:
            column = "framework_version" if wanted_version else "framework_id"
            hint = "" if wanted_version else " (give framework_version too)"
            fail(
                column,
                f"no imported framework {framework!r} version {wanted_version!r}{hint}",
            )
            return None
        if not values["level"]:
            return None
        level = _level(version, values["level"])
        if level is None:
            keys = ", ".join(lv.key for lv in version.levels)
            fail("level", f"no level {values['level']!r} in {version.title}; levels: {keys}")
            return None
        if not values["statement"]:
            return None
        statement = _statement(level, values["statement"])
        if statement is None:
            fail(
                "statement",
                f"{values['statement']!r} is neither a position 1-"
                f"{len(level.statements)} nor the id of a statement of level "
                f"{level.key}",
            )
        return statement


def _check_cells(values: dict[str, str], fail: _Fail) -> None:
    """Required cells given, every cell within its length limit."""
    for column in REQUIRED:
        if not values[column]:
            fail(column, "required, but empty")
    for column, limit in LIMITS.items():
        if len(values[column]) > limit:
            fail(column, f"{len(values[column])} characters; at most {limit}")


def _existing_context(
    session: Session, platforms: list[Platform], context_id: str
) -> Context | None:
    return session.scalars(
        select(Context)
        .where(Context.platform_id.in_([p.id for p in platforms]), Context.context_id == context_id)
        .order_by(Context.id)
    ).first()


# --------------------------------------------------------------------------- writing


def _user_ids(session: Session, issuer: str, subs: list[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for start in range(0, len(subs), _CHUNK):
        chunk = subs[start : start + _CHUNK]
        for user in session.scalars(select(User).where(User.issuer == issuer, User.sub.in_(chunk))):
            found[user.sub] = user
    return found


def _users(session: Session, rows: list[Row], report: ImportReport) -> dict[tuple[str, str], int]:
    """The id of every row's learner; the missing ones are created in one INSERT (objects
    added one by one would cost an INSERT ... RETURNING each on SQLite)."""
    by_issuer: dict[str, set[str]] = defaultdict(set)
    first: dict[tuple[str, str], Row] = {}
    for row in rows:
        by_issuer[row.issuer].add(row.sub)
        first.setdefault((row.issuer, row.sub), row)
    found: dict[tuple[str, str], int] = {}
    for issuer, subs in by_issuer.items():
        ordered = sorted(subs)
        existing = _user_ids(session, issuer, ordered)
        for sub, user in existing.items():
            row = first[(issuer, sub)]
            # Launch data is fresher than a backfill: only fill in what is missing.
            if row.name and not user.name:
                user.name = row.name
            if row.email and not user.email:
                user.email = row.email
            found[(issuer, sub)] = user.id
        missing = [sub for sub in ordered if sub not in existing]
        if missing:
            session.execute(
                insert(User),
                [
                    {
                        "issuer": issuer,
                        "sub": sub,
                        "name": first[(issuer, sub)].name,
                        "email": first[(issuer, sub)].email,
                    }
                    for sub in missing
                ],
            )
            report.users_created += len(missing)
            created = _user_ids(session, issuer, missing)
            found.update(((issuer, sub), user.id) for sub, user in created.items())
    session.flush()
    return found


def _contexts(
    session: Session, rows: list[Row], lookups: _Lookups, report: ImportReport
) -> dict[tuple[str, str], Context]:
    found: dict[tuple[str, str], Context] = {}
    for row in rows:
        if row.context_id is None or (row.issuer, row.context_id) in found:
            continue
        platforms = lookups.platforms_for(row.issuer)
        context = _existing_context(session, platforms, row.context_id)
        if context is None:
            context = Context(platform_id=platforms[0].id, context_id=row.context_id)
            session.add(context)
            session.flush()
            report.contexts_created += 1
        found[(row.issuer, row.context_id)] = context
    return found


def _memberships(session: Session, pairs: set[tuple[int, int]], report: ImportReport) -> None:
    by_context: dict[int, set[int]] = defaultdict(set)
    for context_id, user_id in pairs:
        by_context[context_id].add(user_id)
    for context_id, user_ids in by_context.items():
        ordered = sorted(user_ids)
        existing: set[int] = set()
        for start in range(0, len(ordered), _CHUNK):
            existing.update(
                session.scalars(
                    select(Membership.user_id).where(
                        Membership.context_id == context_id,
                        Membership.user_id.in_(ordered[start : start + _CHUNK]),
                    )
                )
            )
        # Roles from launches and NRPS are never changed by an import: only new ones.
        new = [
            {
                "context_id": context_id,
                "user_id": user_id,
                "roles": [LEARNER_ROLE],
                "is_instructor": False,
                "is_learner": True,
                "active": True,
                "source": "import",
                "launched": False,
            }
            for user_id in ordered
            if user_id not in existing
        ]
        if new:
            session.execute(insert(Membership), new)
            report.memberships_created += len(new)


def _existing_keys(session: Session, learner_ids: set[int]) -> set[str]:
    """The import keys of these learners' stored events.

    Looked up by learner (an index range each), not by key: a long list of keys compares
    every key with every row once PostgreSQL settles on a generic plan for the repeated
    statement, which made importing the same 1,000-credential file again take seconds.
    """
    found: set[str] = set()
    ordered = sorted(learner_ids)
    for start in range(0, len(ordered), _CHUNK):
        found.update(
            session.scalars(
                select(SignoffEvent.source_key).where(
                    SignoffEvent.learner_id.in_(ordered[start : start + _CHUNK]),
                    SignoffEvent.source_key.is_not(None),
                )
            )
        )
    return found


def apply(session: Session, rows: list[Row]) -> ImportReport:
    """Write checked rows in the caller's transaction."""
    report = ImportReport(rows=len(rows))
    lookups = _Lookups(session)
    users = _users(session, rows, report)
    contexts = _contexts(session, rows, lookups, report)
    _memberships(
        session,
        {
            (contexts[(r.issuer, r.context_id)].id, users[(r.issuer, r.sub)])
            for r in rows
            if r.context_id is not None
        },
        report,
    )

    # From here on only ids.
    user_ids = users
    context_ids = {key: context.id for key, context in contexts.items()}

    def event_key(row: Row) -> str:
        return f"{row.group_key()}:{user_ids[(row.issuer, row.sub)]}:{row.statement.id}"

    stored = _existing_keys(session, set(user_ids.values()))
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if event_key(row) in stored:
            report.skipped += 1
        else:
            groups[row.group_key()].append(row)
    # Oldest first, so the event log reads in the order things happened.
    ordered = sorted(groups.items(), key=lambda g: (g[1][0].signed_at, g[1][0].number))
    records = [
        signoffs.Record(
            learner_id=user_ids[(members[0].issuer, members[0].sub)],
            statement_ids=[r.statement.id for r in members],
            context_id=context_ids.get((members[0].issuer, members[0].context_id or "")),
            signed_at=members[0].signed_at,
            actor_label=members[0].signed_by,
            note=members[0].note,
            evidence={"source": "csv-import", "rows": [r.number for r in members]},
            source_key=key,
        )
        for key, members in ordered
    ]
    # The whole file in one batch: a fixed number of statements and one batch of credentials,
    # however many rows (bench/bench_issuance.py).
    result = signoffs.sign_records(session, records)
    report.signed = result.signed
    report.already_met = len(result.already_met)
    report.credentials = result.credentials
    return report


def run(session: Session, data: bytes | str) -> ImportReport:
    """Check every row, then apply them all (in the caller's transaction)."""
    return apply(session, parse(session, data))
