"""Credential issuance, measured in one run.

1. Sign-off to signed credential: the median time of the sign-off that completes a level (its
   event, progress check, status-list bit, eddsa-rdfc-2022 signature, outbox and audit rows),
   against the median of a sign-off that completes nothing, on the same database. The
   difference is what issuing costs. (Signing alone against the Node reference is in
   bench_signing.py.)
2. Backfill: N credentials through ``skillsign signoffs import`` (N learners x the 10 statements
   of a level), wall time; then the same file again (idempotent: nothing new).

    .venv/bin/python bench/bench_issuance.py [--learners 200] [--credentials 1000]
        [--database-url URL]

SQLite (a temporary file) always; PostgreSQL too when --database-url or
SKILLSIGN_TEST_DATABASE_URL names one (the run uses a schema of its own and drops it).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from support.lti_rows import add_platform, make_course, seed_version  # noqa: E402

from lti_app import create_app  # noqa: E402
from lti_app.db.engine import make_engine  # noqa: E402
from lti_app.db.models import Credential  # noqa: E402
from lti_app.migrate import upgrade  # noqa: E402
from lti_app.services import signoff_import, signoffs  # noqa: E402

ISSUER = "https://lms.bench.example"
IMPORT_ISSUER = "https://records.bench.example"


@contextmanager
def database(kind: str, pg_url: str | None, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
        upgrade(url)
        yield url
        return
    assert pg_url
    schema = f"skillsign_bench_{secrets.token_hex(4)}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        rendered = url.render_as_string(hide_password=False)
        upgrade(rendered)
        yield rendered
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def make_app(url: str, workdir: Path):
    return create_app(
        {
            "ENV": "test",
            "DATABASE_URL": url,
            "INSTANCE_DIR": str(workdir / "instance"),
            "SECRET_KEY": secrets.token_hex(16),
            "BASE_URL": "https://skills.bench.example",
        }
    )


def signoff_timings(app, learners: int) -> dict[str, float]:
    """Median ms of a completing sign-off and of one that completes nothing."""
    db = app.extensions["skillsign.db"]
    with db.transaction() as session:
        course = make_course(
            session,
            issuer=ISSUER,
            client_id="bench",
            token_url=f"{ISSUER}/token",
            lineitems_url=None,
            learners=learners,
        )
        level = next(lv for lv in course.version.levels if lv.key == "emerging")
        statements = [st.id for st in level.statements]
    completing, plain = [], []
    for learner in course.learners:
        for index, statement in enumerate(statements):
            started = time.perf_counter()
            with db.transaction() as session:
                result = signoffs.sign(
                    session,
                    actor_id=course.instructor.id,
                    context_id=course.context.id,
                    learner_ids=[learner.id],
                    statement_ids=[statement],
                )
            elapsed = (time.perf_counter() - started) * 1000
            last = index == len(statements) - 1
            assert len(result.credentials) == (1 if last else 0)
            (completing if last else plain).append(elapsed)
    # The first few include imports and warm-up of caches: leave them out of both medians.
    completing, plain = completing[3:], plain[20:]
    return {
        "completing_ms": statistics.median(completing),
        "plain_ms": statistics.median(plain),
        "issuing_ms": statistics.median(completing) - statistics.median(plain),
        "samples": len(completing),
    }


def import_csv(version, credentials: int) -> str:
    level = next(lv for lv in version.levels if lv.key == "emerging")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(signoff_import.COLUMNS)
    for n in range(credentials):
        for st in level.statements:
            writer.writerow(
                [
                    IMPORT_ISSUER,
                    f"import-{n}",
                    f"Imported Learner {n}",
                    f"import-{n}@example.edu",
                    f"course-{n % 10}",
                    version.identifier,
                    version.version,
                    level.key,
                    st.position,
                    "Paper record",
                    f"2024-0{1 + st.position % 9}-15T10:00:00Z",
                    "",
                ]
            )
    return out.getvalue()


def import_timings(app, credentials: int, workdir: Path) -> dict[str, float]:
    db = app.extensions["skillsign.db"]
    with db.transaction() as session:
        add_platform(
            session, issuer=IMPORT_ISSUER, client_id="bench-import", token_url=f"{ISSUER}/token"
        )
        version = seed_version(session)
        for level in version.levels:
            assert level.statements
    path = workdir / "signoffs.csv"
    path.write_text(import_csv(version, credentials), encoding="utf-8")
    runner = app.test_cli_runner()
    with db.transaction() as session:
        before = session.scalar(select(func.count()).select_from(Credential))
    started = time.perf_counter()
    first = runner.invoke(args=["signoffs", "import", str(path), "--json"])
    first_s = time.perf_counter() - started
    assert first.exit_code == 0, first.output
    issued = len(json.loads(first.output)["credentials_issued"])
    started = time.perf_counter()
    second = runner.invoke(args=["signoffs", "import", str(path), "--json"])
    second_s = time.perf_counter() - started
    assert second.exit_code == 0, second.output
    assert json.loads(second.output)["credentials_issued"] == []
    with db.transaction() as session:
        after = session.scalar(select(func.count()).select_from(Credential))
    assert after - before == issued == credentials
    return {
        "rows": credentials * 10,
        "credentials": issued,
        "import_s": first_s,
        "per_credential_ms": first_s * 1000 / credentials,
        "reimport_s": second_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=100, help="for the sign-off timings")
    parser.add_argument("--credentials", type=int, default=1000, help="for the import")
    parser.add_argument("--database-url", default=os.environ.get("SKILLSIGN_TEST_DATABASE_URL"))
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if args.database_url else [])
    for kind in backends:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            with database(kind, args.database_url, workdir) as url:
                app = make_app(url, workdir)
                try:
                    signing = signoff_timings(app, args.learners)
                    imported = import_timings(app, args.credentials, workdir)
                finally:
                    app.extensions["skillsign.db"].dispose()
        print(f"== {kind}")
        print(
            f"sign-off completing a level (issues the credential): "
            f"median {signing['completing_ms']:.1f} ms over {signing['samples']}"
        )
        print(f"sign-off completing nothing: median {signing['plain_ms']:.1f} ms")
        print(f"issuing therefore costs: {signing['issuing_ms']:.1f} ms")
        print(
            f"signoffs import: {imported['credentials']} credentials from {imported['rows']} "
            f"rows in {imported['import_s']:.1f} s ({imported['per_credential_ms']:.1f} ms per "
            f"credential); the same file again: {imported['reimport_s']:.1f} s, nothing new"
        )


if __name__ == "__main__":
    main()
