"""The instructor's grid page: median server time at 500 learners x 40 statements.

The page is requested through the WSGI app in process (no network), so the time is
the server's: launch session, scope, roster, per-learner counts, the shown page's
cells, requests and credentials, and the template. The baseline is the same page
for a class of 50 in the same run: with a constant number of queries, the ratio
shows what the class size itself costs. Queries per page are counted too.

    .venv/bin/python bench/bench_grid.py [--runs 30] [--learners 500]

SQLite always; PostgreSQL as well when SKILLSIGN_BENCH_DATABASE_URL or
SKILLSIGN_TEST_DATABASE_URL names a server, or one answers on 127.0.0.1:5432 (the bench works
in a schema of its own and drops it afterwards).
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sqlalchemy import event  # noqa: E402
from support.checklist_world import Caller, make_world  # noqa: E402

from bench.common import Figure, command_line, postgres_schema, postgres_url  # noqa: E402
from bench.report import print_figures  # noqa: E402
from lti_app import create_app  # noqa: E402
from lti_app.db.models import SignoffEvent, SignoffRequest  # noqa: E402
from lti_app.migrate import upgrade  # noqa: E402
from lti_app.request_db import database  # noqa: E402

BENCH = "instructor grid"


def _app(url: str, instance: Path):
    return create_app(
        {
            "ENV": "test",
            "TESTING": True,
            "DATABASE_URL": url,
            "INSTANCE_DIR": str(instance),
            "SECRET_KEY": secrets.token_hex(16),
            "BASE_URL": "http://localhost",
            "DEMO_LMS": False,
            "LOG_LEVEL": "WARNING",
        }
    )


def _fill(app, world, rng: random.Random) -> None:
    """About half the cells signed (most learners part-way, some complete, some not
    started), and a pending request on one learner in ten."""
    statements = world.statements
    with database(app).transaction() as session:
        rows = []
        for n, learner in enumerate(world.learners):
            share = (0.0, 1.0, rng.random())[n % 3]
            for statement in statements:
                if rng.random() < share:
                    rows.append(
                        {
                            "learner_id": learner.id,
                            "statement_id": statement,
                            "context_id": world.context_a,
                            "actor_id": world.instructor.id,
                            "action": "sign",
                            "evidence": {},
                        }
                    )
        session.execute(SignoffEvent.__table__.insert(), rows)
        session.execute(
            SignoffRequest.__table__.insert(),
            [
                {
                    "learner_id": learner.id,
                    "statement_id": statements[-1],
                    "context_id": world.context_a,
                    "evidence_text": "evidence",
                    "status": "pending",
                }
                for learner in world.learners[::10]
            ],
        )


def _measure(app, caller: Caller, path: str, runs: int) -> tuple[list[float], int]:
    engine = database(app).engine
    queries = 0

    def count(*_args, **_kwargs) -> None:
        nonlocal queries
        queries += 1

    for _ in range(3):
        assert caller.get(path).status_code == 200
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = caller.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    event.listen(engine, "before_cursor_execute", count)
    try:
        caller.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return times, queries


def run(url: str, learners: int, runs: int) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as instance:
        app = _app(url, Path(instance))
        client = app.test_client()
        rng = random.Random(7)
        for size, tag in ((50, "base-"), (learners, "big-")):
            world = make_world(app, learners=size, level_keys=[], tag=tag)
            assert len(world.statements) == 40
            _fill(app, world, rng)
            caller = world.caller(client, world.instructor)
            for name, path in (
                ("first page", "/grid"),
                ("in progress, page 3", "/grid?status=in_progress&page=3"),
                ("search", "/grid?q=learner0042"),
            ):
                times, queries = _measure(app, caller, path, runs)
                results[f"{size} learners: {name}"] = {
                    "median_ms": round(statistics.median(times), 1),
                    "queries": queries,
                    "samples": times,
                }
        database(app).dispose()
    base = results["50 learners: first page"]["median_ms"]
    big = results[f"{learners} learners: first page"]["median_ms"]
    results["ratio big/base (first page)"] = round(big / base, 2)
    return results


def figures(runs: int = 30, learners: int = 500) -> list[Figure]:
    """Per backend and page: the big class against the class of 50 (same page, same run)."""
    command = command_line(
        ["bench/bench_grid.py", "--runs", str(runs), "--learners", str(learners)]
    )
    reports: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        reports["sqlite"] = run(url, learners, runs)
    pg_url = postgres_url()
    if pg_url:
        reports["postgresql"] = _postgres(pg_url, learners, runs)
    out: list[Figure] = []
    for backend, report in reports.items():
        for page in ("first page", "in progress, page 3", "search"):
            big = report[f"{learners} learners: {page}"]
            base = report[f"50 learners: {page}"]
            fig = Figure(
                BENCH,
                f"{backend}: {learners} learners x 40 statements, {page}",
                "ms",
                big["samples"],
                command,
                "50 learners",
                base["samples"],
                goal="median <= 150 ms" if page == "first page" else None,
                notes=[f"SQL queries per page: {big['queries']} ({base['queries']} for 50)"],
            )
            if page == "first page":
                fig.met = fig.median <= 150
            out.append(fig)
    return out


def _postgres(pg_url: str, learners: int, runs: int) -> dict:
    with postgres_schema(pg_url) as url:
        upgrade(url)
        return run(url, learners, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--learners", type=int, default=500)
    args = parser.parse_args()
    if not 1 <= args.runs <= 1000 or not 50 <= args.learners <= 5000:
        parser.error("--runs 1-1000, --learners 50-5000")
    print_figures(figures(args.runs, args.learners))


if __name__ == "__main__":
    main()
