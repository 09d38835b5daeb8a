"""Grade passback and progress: what the design choices buy, measured in one run.

1. Cohort progress (500 learners x 40 statements, the instructor's grid):
   ``cohort_met`` (one query) against asking learner by learner (one query each).
2. Score delivery to the built-in demo LMS over real HTTP: access tokens cached
   until they expire against a new token for every call (pylti1p3's behaviour).
3. A complete launch from the demo LMS (its page, the tool's login, the
   platform's authorization, the launch POST, the landing page).

    .venv/bin/python bench/bench_passback.py [--launches 200] [--scores 50] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sqlalchemy import select  # noqa: E402
from support.demo_browser import DemoBrowser  # noqa: E402
from support.lti_rows import LEARNER, add_user, make_course, sign  # noqa: E402
from support.servers import serve  # noqa: E402

from bench.common import Figure, command_line  # noqa: E402
from frameworks import bundled_paths, load  # noqa: E402
from keys import KeyKind, KeyStore  # noqa: E402
from lti_app import create_app  # noqa: E402
from lti_app.db.models import FrameworkLevel, Statement  # noqa: E402
from lti_app.demo import CLIENT_ID, register_with_tool  # noqa: E402
from lti_app.demo.seed import PRESET_LINK_ID  # noqa: E402
from lti_app.lms import (  # noqa: E402
    SCOPE_LINEITEM,
    SCOPE_SCORE,
    AccessTokenCache,
    PlatformCredentials,
    ServicesClient,
)
from lti_app.migrate import upgrade  # noqa: E402
from lti_app.request_db import database  # noqa: E402
from lti_app.services.frameworks import import_framework  # noqa: E402
from lti_app.services.progress import cohort_met, met_statement_ids  # noqa: E402

BENCH = "passback and progress"


def samples_ms(function: Callable[[], object], runs: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return times


def median_ms(function: Callable[[], object], runs: int, warmup: int = 2) -> float:
    return statistics.median(samples_ms(function, runs, warmup))


def bench_grid(app, learners: int = 500, statements: int = 40) -> dict:
    rng = random.Random(7)
    db = database(app)
    with db.transaction() as session:
        course = make_course(
            session,
            issuer="https://bench.example",
            client_id="bench",
            token_url="https://bench.example/token",
            lineitems_url=None,
            learners=1,
        )
        ids = session.scalars(
            select(Statement.id)
            .join(FrameworkLevel, Statement.level_id == FrameworkLevel.id)
            .where(Statement.framework_version_id == course.version.id)
            .order_by(FrameworkLevel.position, Statement.position)
            .limit(statements)
        ).all()
        people = [
            add_user(session, "https://bench.example", f"b{n}", f"Ñ {n}", course.context, [LEARNER])
            for n in range(learners)
        ]
        for person in people:
            for statement in ids:
                if rng.random() < 0.5:
                    sign(session, person, statement)
                    if rng.random() < 0.1:
                        sign(session, person, statement, action="undo")
        learner_ids = [p.id for p in people]

    def grid() -> None:
        with db.transaction() as session:
            cohort_met(session, learner_ids, ids)

    def one_by_one() -> None:
        with db.transaction() as session:
            for learner_id in learner_ids:
                met_statement_ids(session, learner_id, ids)

    fast, slow = samples_ms(grid, 15), samples_ms(one_by_one, 5)
    return {
        "grid": f"{learners}x{len(ids)}",
        "cohort_met_ms": round(statistics.median(fast), 2),
        "per_learner_ms": round(statistics.median(slow), 2),
        "speedup": round(statistics.median(slow) / statistics.median(fast), 1),
        "samples": (fast, slow),
    }


def bench_scores(app, tool_url: str, scores: int) -> dict:
    creds = PlatformCredentials(
        issuer=f"{tool_url}/demo-lms", client_id=CLIENT_ID, token_url=f"{tool_url}/demo-lms/token"
    )
    keys = KeyStore(app.config["KEYS_DIR"])
    scopes = [SCOPE_LINEITEM, SCOPE_SCORE]
    lineitems = f"{tool_url}/demo-lms/api/courses/demo-course-1/lineitems"
    setup = ServicesClient(creds, keys, tokens=AccessTokenCache())
    lineitem = setup.ensure_lineitem(
        lineitems,
        scopes=scopes,
        resource_link_id=PRESET_LINK_ID,
        label="bench",
        score_maximum=10,
        tag="bench",
    )

    def post(client: ServicesClient) -> None:
        stamp = time.time()
        client.post_score(
            lineitem,
            {
                "userId": "demo-learner-1",
                "scoreGiven": 5,
                "scoreMaximum": 10,
                "activityProgress": "InProgress",
                "gradingProgress": "FullyGraded",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp))
                + f".{int(stamp * 1000) % 1000:03d}+00:00",
            },
            scopes=scopes,
        )

    cached = ServicesClient(creds, keys, tokens=AccessTokenCache())

    def fresh_token_each_time() -> None:
        post(ServicesClient(creds, keys, tokens=AccessTokenCache()))

    with_cache = samples_ms(lambda: post(cached), scores)
    without = samples_ms(fresh_token_each_time, scores)
    return {
        "score_post_cached_token_ms": round(statistics.median(with_cache), 2),
        "score_post_new_token_ms": round(statistics.median(without), 2),
        "ratio": round(statistics.median(without) / statistics.median(with_cache), 2),
        "samples": (with_cache, without),
    }


def bench_launch(tool_url: str, launches: int) -> dict:
    browser = DemoBrowser(tool_url)
    users = ["demo-instructor", "demo-learner-1"]
    count = 0

    def launch() -> None:
        nonlocal count
        count += 1
        landing = browser.launch(PRESET_LINK_ID, users[count % 2])
        assert landing.page is not None and landing.page.status_code == 200

    return {"demo_launch_median_ms": round(median_ms(launch, launches, warmup=5), 2)}


def measure(launches: int, scores: int, database_url: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        app = create_app(
            {"ENV": "test", "DATABASE_URL": url, "INSTANCE_DIR": tmp, "LOG_LEVEL": "WARNING"}
        )
        server = serve(app)
        try:
            app.config["BASE_URL"] = server.url
            KeyStore(app.config["KEYS_DIR"]).ensure(KeyKind.RSA)
            with database(app).transaction() as session:
                for path in bundled_paths():
                    import_framework(session, load(path), "ler")
                register_with_tool(session, server.url)
            return {
                "progress": bench_grid(app),
                "passback": bench_scores(app, server.url, scores),
                "launch": bench_launch(server.url, launches),
            }
        finally:
            server.stop()
            database(app).dispose()


def figures(launches: int = 50, scores: int = 30) -> list[Figure]:
    results = measure(launches, scores)
    command = command_line(
        ["bench/bench_passback.py", "--launches", str(launches), "--scores", str(scores)]
    )
    progress, passback = results["progress"], results["passback"]
    return [
        Figure(
            BENCH,
            f"cohort progress {progress['grid']} (SQLite), one query",
            "ms",
            progress["samples"][0],
            command,
            "one query per learner",
            progress["samples"][1],
        ),
        Figure(
            BENCH,
            "AGS score to the demo LMS over HTTP, access token cached",
            "ms",
            passback["samples"][0],
            command,
            "a new token per call",
            passback["samples"][1],
            notes=[
                f"a complete launch from the demo LMS: median {results['launch']['demo_launch_median_ms']} ms"
            ],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=200)
    parser.add_argument("--scores", type=int, default=50)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if not 1 <= args.launches <= 10000 or not 1 <= args.scores <= 10000:
        parser.error("--launches and --scores: 1 to 10000")
    results = measure(args.launches, args.scores, args.database_url)
    for part in results.values():
        part.pop("samples", None)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
