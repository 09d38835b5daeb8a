"""EXPLAIN (ANALYZE, BUFFERS) of the one progress query on PostgreSQL.

Loads 200,000 sign-off events (2,000 learners x the seed's 40 statements, signs, undos and
re-signs by several instructors) into a schema of its own, then prints the plan of
``services.progress.latest_events_query`` for a 30-learner x 10-statement grid: first on the
freshly loaded table (autovacuum off, no statistics: what a new deployment or a bulk import
sees), then after ANALYZE. For comparison, the execution time on the same data, for that grid
and for 500 learners x 40 statements, of the two forms it replaced ("join back on max(id)"
and a row_number() window) and of the query's own SQLite form (a correlated subquery, no
LATERAL). Exits 1 if a plan of the query scans the events table sequentially.

    .venv/bin/python bench/explain_progress.py [--events 200000] [--learners 2000]
"""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection, select, text  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.common import SEED, postgres_schema, postgres_url  # noqa: E402
from frameworks import load  # noqa: E402
from lti_app.db.engine import make_engine  # noqa: E402
from lti_app.db.models import FrameworkLevel, Statement, User  # noqa: E402
from lti_app.migrate import upgrade  # noqa: E402
from lti_app.services.frameworks import import_framework  # noqa: E402
from lti_app.services.progress import latest_events_query  # noqa: E402

GRID = (30, 10)  # learners x statements, the instructor's grid of one level
LARGE = (500, 40)  # the grid benchmark's class (bench_grid.py): the counts read every learner
INSTRUCTORS = 5
TIME_LIMIT_MS = 120_000  # statement_timeout: every phase is bounded

# The forms the one query replaced, for comparison only (same pairs, same answer).
JOIN_ON_MAX = """
SELECT e.learner_id, e.statement_id, e.action
FROM signoff_events e
JOIN (SELECT max(id) AS id FROM signoff_events
      WHERE learner_id IN ({learners}) AND statement_id IN ({statements})
      GROUP BY learner_id, statement_id) latest ON e.id = latest.id
"""
WINDOW = """
SELECT learner_id, statement_id, action FROM (
  SELECT learner_id, statement_id, action,
         row_number() OVER (PARTITION BY learner_id, statement_id ORDER BY id DESC) AS rank
  FROM signoff_events
  WHERE learner_id IN ({learners}) AND statement_id IN ({statements})) ranked
WHERE rank = 1
"""


def _load(conn: Connection, events: int, learners: int) -> tuple[list[int], list[uuid.UUID]]:
    """The seed framework, the people, and ``events`` events spread over every pair; ids
    ascend in the order the events happened, as the application writes them."""
    with Session(bind=conn) as session:
        version = import_framework(session, load(SEED), "bench").version
        statements = list(
            session.scalars(
                select(Statement.id)
                .join(FrameworkLevel, Statement.level_id == FrameworkLevel.id)
                .where(Statement.framework_version_id == version.id)
                .order_by(FrameworkLevel.position, Statement.position)
            )
        )
        session.flush()
    conn.execute(
        text(
            "INSERT INTO users (issuer, sub, name, show_name_on_credentials, created_at) "
            "SELECT 'https://bench.example', 'u' || n, 'Learner ' || n, false, now() "
            "FROM generate_series(1, :n) AS n"
        ),
        {"n": learners + INSTRUCTORS},
    )
    people = list(conn.scalars(select(User.id).order_by(User.id)))
    instructors, learner_ids = people[:INSTRUCTORS], people[INSTRUCTORS:]
    conn.execute(text("ALTER TABLE signoff_events SET (autovacuum_enabled = false)"))
    conn.execute(text("SELECT setseed(0.42)"))
    # Event n goes to a random pair; about one in five is an undo, so pairs see sign, undo,
    # re-sign sequences; several instructors sign; some events share a timestamp.
    conn.execute(
        text(
            "INSERT INTO signoff_events (learner_id, statement_id, actor_id, action, evidence, "
            "signed_at, created_at) "
            "SELECT (:learners)[1 + floor(random() * :nl)::int], "
            "(:statements)[1 + floor(random() * :ns)::int], "
            "(:instructors)[1 + floor(random() * :ni)::int], "
            "CASE WHEN random() < 0.2 THEN 'undo' ELSE 'sign' END, '{}'::json, "
            "timestamp '2026-01-01' + (n / 4) * interval '1 minute', now() "
            "FROM generate_series(1, :events) AS n ORDER BY n"
        ),
        {
            "learners": learner_ids,
            "nl": len(learner_ids),
            "statements": statements,
            "ns": len(statements),
            "instructors": instructors,
            "ni": len(instructors),
            "events": events,
        },
    )
    return learner_ids, statements


def _explain(conn: Connection, sql: str) -> list[str]:
    return list(conn.scalars(text("EXPLAIN (ANALYZE, BUFFERS) " + sql)))


def _execution_ms(plan: list[str]) -> float:
    for line in plan:
        found = re.match(r"\s*Execution Time: ([0-9.]+) ms", line)
        if found:
            return float(found.group(1))
    raise ValueError("no execution time in the plan")


def _seq_scans_of_events(plan: list[str]) -> list[str]:
    return [line.strip() for line in plan if re.search(r"Seq Scan on signoff_events", line)]


def _forms(learners: list[int], statements: list[uuid.UUID]) -> dict[str, str]:
    """The query (first) and the forms it is compared with, as SQL for these pairs."""
    lateral, subquery = (
        str(
            latest_events_query(learners, statements, lateral=form).compile(
                dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
            )
        )
        for form in (True, False)
    )
    in_learners = ", ".join(map(str, learners))
    in_statements = ", ".join(f"'{s}'::uuid" for s in statements)
    return {
        "the query": lateral,
        "the query's SQLite form on PostgreSQL": subquery,
        "replaced: join back on max(id)": JOIN_ON_MAX.format(
            learners=in_learners, statements=in_statements
        ),
        "replaced: row_number() window": WINDOW.format(
            learners=in_learners, statements=in_statements
        ),
    }


def _timed(conn: Connection, sql: str) -> list[str]:
    _explain(conn, sql)  # warm the cache: the figures compare plans, not disks
    return _explain(conn, sql)


def run(url: str, events: int, learners: int) -> int:
    engine = make_engine(url)
    failures = 0
    try:
        with engine.begin() as conn:
            conn.execute(text(f"SET LOCAL statement_timeout = {TIME_LIMIT_MS}"))
            learner_ids, statement_ids = _load(conn, events, learners)
        grid = _forms(learner_ids[: GRID[0]], statement_ids[: GRID[1]])
        large = _forms(learner_ids[: LARGE[0]], statement_ids[: LARGE[1]])
        with engine.connect() as conn:
            conn.execute(text(f"SET statement_timeout = {TIME_LIMIT_MS}"))
            total = conn.scalar(text("SELECT count(*) FROM signoff_events"))
            print(f"{total} events, {len(learner_ids)} learners, {len(statement_ids)} statements")
            print(f"grid: {GRID[0]} learners x {GRID[1]} statements")
            print("\n-- the query (services.progress.latest_events_query):\n" + grid["the query"])
            for phase in ("freshly loaded, no statistics", "after ANALYZE"):
                if phase == "after ANALYZE":
                    conn.execute(text("ANALYZE"))
                plan = _timed(conn, grid["the query"])
                print(f"\n== {phase}: EXPLAIN (ANALYZE, BUFFERS)")
                print("\n".join(plan))
                for size, forms in ((GRID, grid), (LARGE, large)):
                    for name, sql in forms.items():
                        found = _timed(conn, sql)
                        scans = _seq_scans_of_events(found)
                        if scans and name == "the query":
                            failures += 1
                        seq = " (Seq Scan on signoff_events)" if scans else ""
                        print(f"   {size[0]}x{size[1]} {name}: {_execution_ms(found):.3f} ms{seq}")
    finally:
        engine.dispose()
    if failures:
        print("!! a plan of the query scans the events table sequentially")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--learners", type=int, default=2_000)
    args = parser.parse_args()
    server = postgres_url()
    if server is None:
        print("no PostgreSQL server: set SKILLSIGN_BENCH_DATABASE_URL (see bench/README.md)")
        return 2
    with postgres_schema(server) as url:
        upgrade(url)
        return run(url, args.events, args.learners)


if __name__ == "__main__":
    sys.exit(main())
