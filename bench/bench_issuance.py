"""Credential issuance, measured in one run.

1. Sign-off to signed credential: the median time of the sign-off that completes a level (its
   event, progress check, status-list bit, eddsa-rdfc-2022 signature, outbox and audit rows),
   against the median of a sign-off that completes nothing, on the same database. The
   difference is what issuing costs. (Signing alone against the Node reference is in
   bench_signing.py.)
2. Backfill: N credentials through ``skillsign signoffs import`` (N learners x the 10 statements
   of a level), run as a subprocess the way an operator runs it: wall time (goal: 1,000 in
   <= 10 s) against the signatures alone on one core, and the peak RSS of the command and
   of each of its signing workers; then the same file again (idempotent: nothing new).

    .venv/bin/python bench/bench_issuance.py [--learners 100] [--credentials 1000]
        [--database-url URL]

SQLite (a temporary file) always; PostgreSQL too when --database-url,
SKILLSIGN_BENCH_DATABASE_URL or SKILLSIGN_TEST_DATABASE_URL names a server, or one answers on
127.0.0.1:5432 (the run uses a schema of its own and drops it).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from support.lti_rows import add_platform, make_course, seed_version  # noqa: E402

from bench.common import (  # noqa: E402
    VENV_BIN,
    Figure,
    RssSampler,
    command_line,
    postgres_schema,
    postgres_url,
)
from bench.report import print_figures  # noqa: E402
from credentials import data_integrity  # noqa: E402
from lti_app import create_app  # noqa: E402
from lti_app.db.models import Credential  # noqa: E402
from lti_app.migrate import upgrade  # noqa: E402
from lti_app.services import signoff_import, signoffs  # noqa: E402

BENCH = "bulk issuance"
ISSUER = "https://lms.bench.example"
IMPORT_ISSUER = "https://records.bench.example"


@contextmanager
def database(kind: str, pg_url: str | None, workdir: Path) -> Iterator[str]:
    """A migrated database for one run: a SQLite file, or a PostgreSQL schema of its own
    (dropped afterwards, whatever happens)."""
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
        upgrade(url)
        yield url
        return
    assert pg_url
    with postgres_schema(pg_url) as url:
        upgrade(url)
        yield url


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
    # The first few include imports and warm-up of caches: leave them out of both.
    return {"completing": completing[3:], "plain": plain[20:]}


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


def signing_floor_ms(app, samples: int = 60) -> list[float]:
    """One credential as the import issues it, signed again and again in this process: the
    single-core cost of the signatures alone, the import's floor."""
    db = app.extensions["skillsign.db"]
    with db.transaction() as session:
        document = session.scalars(select(Credential.document).limit(1)).one()
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    key = Ed25519PrivateKey.generate()
    proofs = document["proof"]
    vm = (proofs[0] if isinstance(proofs, list) else proofs)["verificationMethod"]
    times = []
    for i in range(samples + 5):
        started = time.perf_counter()
        data_integrity.sign(unsigned, key, vm)
        if i >= 5:
            times.append((time.perf_counter() - started) * 1000)
    return times


def import_timings(app, url: str, credentials: int, workdir: Path) -> dict:
    """``skillsign signoffs import`` in a subprocess, as an operator runs it, its memory
    sampled (the command and its signing workers); then the same file again."""
    db = app.extensions["skillsign.db"]
    with db.transaction() as session:
        add_platform(
            session, issuer=IMPORT_ISSUER, client_id="bench-import", token_url=f"{ISSUER}/token"
        )
        version = seed_version(session)
        before = session.scalar(select(func.count()).select_from(Credential))
    path = workdir / "signoffs.csv"
    path.write_text(import_csv(version, credentials), encoding="utf-8")
    env = {
        **os.environ,
        "SKILLSIGN_ENV": "test",
        "SKILLSIGN_DATABASE_URL": url,
        "SKILLSIGN_INSTANCE_DIR": str(workdir / "instance"),
        "SKILLSIGN_SECRET_KEY": app.config["SECRET_KEY"],
        "SKILLSIGN_BASE_URL": app.config["BASE_URL"],
        "SKILLSIGN_LOG_LEVEL": "WARNING",
    }
    command = [str(VENV_BIN / "skillsign"), "signoffs", "import", str(path), "--json"]
    runs = []
    for _ in range(2):
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        with RssSampler(process.pid) as memory:
            out, err = process.communicate(timeout=600)
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            raise RuntimeError(f"signoffs import failed:\n{out.decode()}\n{err.decode()}")
        runs.append((seconds, json.loads(out), memory))
    (first_s, first, memory), (second_s, second, _) = runs
    assert second["credentials_issued"] == [], "importing the same file again issued credentials"
    with db.transaction() as session:
        after = session.scalar(select(func.count()).select_from(Credential))
    issued = len(first["credentials_issued"])
    assert after - before == issued == credentials, (before, after, issued)
    return {
        "rows": first["rows"],
        "credentials": issued,
        "import_s": first_s,
        "reimport_s": second_s,
        "rss": sorted(
            ((memory.role[pid], pid, peak) for pid, peak in memory.peak.items()),
            key=lambda item: (item[0] != "main", item[1]),
        ),
    }


def figures(
    learners: int = 100, credentials: int = 1000, pg_url: str | None = None
) -> list[Figure]:
    argv = [
        "bench/bench_issuance.py",
        "--learners",
        str(learners),
        "--credentials",
        str(credentials),
    ]
    command = command_line(argv)
    backends = ["sqlite"] + (["postgresql"] if pg_url else [])
    out: list[Figure] = []
    for kind in backends:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            with database(kind, pg_url, workdir) as url:
                app = make_app(url, workdir)
                try:
                    signing = signoff_timings(app, learners)
                    imported = import_timings(app, url, credentials, workdir)
                    floor = signing_floor_ms(app)
                finally:
                    app.extensions["skillsign.db"].dispose()
        floor_total = [ms * credentials / 1000 for ms in floor]
        out.append(
            Figure(
                BENCH,
                f"{kind}: {credentials} credentials through skillsign signoffs import",
                "s",
                [imported["import_s"]],
                command,
                "their signatures alone, one core",
                floor_total,
                goal="<= 10 s",
                met=imported["import_s"] <= 10,
                notes=[
                    f"{imported['rows']} rows; wall time of the command, Python start included; "
                    f"signing alone {statistics.median(floor):.1f} ms per credential",
                    f"the same file again: {imported['reimport_s']:.1f} s, nothing new",
                    "peak RSS (MiB): "
                    + ", ".join(f"{role} {peak:.0f}" for role, _pid, peak in imported["rss"]),
                ],
            )
        )
        out.append(
            Figure(
                BENCH,
                f"{kind}: sign-off that completes a level (issues its credential)",
                "ms",
                signing["completing"],
                command,
                "sign-off completing nothing",
                signing["plain"],
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=100, help="for the sign-off timings")
    parser.add_argument("--credentials", type=int, default=1000, help="for the import")
    parser.add_argument("--database-url", default=postgres_url())
    args = parser.parse_args()
    if not 4 <= args.learners <= 5000 or not 1 <= args.credentials <= 100000:
        parser.error("--learners 4-5000, --credentials 1-100000")
    print_figures(figures(args.learners, args.credentials, args.database_url))


if __name__ == "__main__":
    main()
