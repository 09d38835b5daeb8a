"""Launch latency, one launch at a time: skillsign vs a bare pylti1p3 Flask tool, same run.

A complete launch is what a person waits for: the OIDC login, the platform's
authorization step, the launch POST and the page the tool shows. skillsign's
launch does login + launch + the redirects to the page the person lands on; the
bare tool (bench/bare_tool.py) validates the launch with pylti1p3 (its public
key cache on, its best case) and answers the launch POST with a page directly.

Both tools and the platform (PyPI ``lti1p3platform``, from tests/support) run
on 127.0.0.1 in this process, each served by a threaded Werkzeug server;
launches alternate between the two tools so drift hits both alike.

    .venv/bin/python bench/bench_launch.py [--launches 200] [--database-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from flask import Flask  # noqa: E402
from support.lti_platform import INSTRUCTOR, LEARNER, Browser, LaunchPlatform, LaunchSpec  # noqa: E402
from support.servers import serve  # noqa: E402

from bench import bare_tool  # noqa: E402
from bench.common import Figure, command_line, percentile  # noqa: E402
from bench.report import print_figures  # noqa: E402
from frameworks import load  # noqa: E402
from lti_app import create_app  # noqa: E402
from lti_app.lti.tool_keys import tool_keys  # noqa: E402
from lti_app.migrate import upgrade  # noqa: E402
from lti_app.request_db import database  # noqa: E402
from lti_app.services.frameworks import import_framework  # noqa: E402

BENCH = "launch, one at a time"


def bare_pylti1p3_tool(platform: LaunchPlatform) -> Flask:
    return bare_tool.build(
        {
            "issuer": platform.issuer,
            "client_id": platform.client_id,
            "auth_login_url": platform.auth_url,
            "auth_token_url": platform.token_url,
            "key_set_url": platform.jwks_url,
            "deployment_id": platform.deployment_id,
        },
        "bench",
    )


def run(launches: int, database_url: str | None) -> dict[str, Any]:
    # Servers stopped, the database let go and the directory removed however the run ends.
    with (
        tempfile.TemporaryDirectory(prefix="skillsign-bench-") as tmp,
        contextlib.ExitStack() as cleanup,
    ):
        workdir = Path(tmp)
        url = database_url or f"sqlite:///{workdir / 'bench.db'}"
        upgrade(url)
        ours = create_app(
            {
                "ENV": "test",
                "DATABASE_URL": url,
                "INSTANCE_DIR": str(workdir / "instance"),
                "SECRET_KEY": "bench-secret",
                "LOG_LEVEL": "WARNING",
            }
        )
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        cleanup.callback(lambda: database(ours).dispose())
        with ours.app_context():
            tool_keys().active_kid()  # as `skillsign keys ensure` does on a real install
        ours_server = serve(ours)
        cleanup.callback(ours_server.stop)
        ours.config["BASE_URL"] = ours_server.url
        platform = LaunchPlatform().start()
        cleanup.callback(platform.stop)
        bare_server = serve(bare_pylti1p3_tool(platform))
        cleanup.callback(bare_server.stop)
        platform.connect(ours_server.url)
        platform.register_in(ours)
        seed = ROOT / "frameworks" / "data" / "psychiatric-technicians.json"
        with ours.app_context(), database(ours).transaction() as db:
            version = import_framework(db, load(seed), "ler").version
            custom = {
                "skillsign_framework": version.identifier,
                "skillsign_version": version.version,
            }

        def one(tool_url: str, index: int) -> tuple[float, float]:
            """(ms until the launch POST is answered, ms until the page is shown)."""
            platform.connect(tool_url)
            role = INSTRUCTOR if index % 20 == 0 else LEARNER
            # No NRPS claim: the instructor grid would otherwise sync the roster from this
            # platform, which serves launches only; this benchmark measures launches.
            spec = LaunchSpec(user_id=f"user-{index % 50}", roles=[role], custom=custom, nrps=False)
            browser = Browser()
            start = time.perf_counter()
            action, form = browser.authorize(browser.login(platform, spec))
            answer = browser.post_launch(action, form)
            accepted = time.perf_counter()
            final = browser.follow(answer) if answer.status_code == 303 else answer
            shown = time.perf_counter()
            if final.status_code != 200:
                raise SystemExit(
                    f"launch failed on {tool_url}: {final.status_code} {final.text[:300]}"
                )
            return (accepted - start) * 1000, (shown - start) * 1000

        for i in range(10):  # warm-up: imports, key caches, connection pools
            one(ours_server.url, i)
            one(bare_server.url, i)
        timings: dict[str, list[float]] = {"skillsign": [], "bare_pylti1p3": []}
        accepted: dict[str, list[float]] = {"skillsign": [], "bare_pylti1p3": []}
        for i in range(launches):
            for name, url_ in (("skillsign", ours_server.url), ("bare_pylti1p3", bare_server.url)):
                until_answer, until_page = one(url_, i)
                accepted[name].append(until_answer)
                timings[name].append(until_page)

    summary: dict[str, Any] = {
        "launches": launches,
        "database": url.split(":")[0],
        "cpus": os.cpu_count(),
        "samples": timings,
        "answered_samples": accepted,
    }
    for name, values in timings.items():
        summary[name] = {
            "median_ms": round(statistics.median(values), 2),
            "p95_ms": round(percentile(values, 0.95), 2),
            "p99_ms": round(percentile(values, 0.99), 2),
            # login + platform auth + launch POST answered (skillsign: its 303)
            "median_launch_answered_ms": round(statistics.median(accepted[name]), 2),
        }
    quarter = max(1, launches // 4)
    summary["skillsign"]["median_first_quarter_ms"] = round(
        statistics.median(timings["skillsign"][:quarter]), 2
    )
    summary["skillsign"]["median_last_quarter_ms"] = round(
        statistics.median(timings["skillsign"][-quarter:]), 2
    )
    summary["ratio_median"] = round(
        summary["skillsign"]["median_ms"] / summary["bare_pylti1p3"]["median_ms"], 2
    )
    summary["ratio_median_launch_answered"] = round(
        summary["skillsign"]["median_launch_answered_ms"]
        / summary["bare_pylti1p3"]["median_launch_answered_ms"],
        2,
    )
    return summary


def figures(launches: int = 100, database_url: str | None = None) -> list[Figure]:
    argv = ["bench/bench_launch.py", "--launches", str(launches)]
    summary = run(launches, database_url)
    command = command_line(argv)
    ours, bare = summary["samples"]["skillsign"], summary["samples"]["bare_pylti1p3"]
    answered = summary["answered_samples"]
    return [
        Figure(
            BENCH,
            f"one at a time ({summary['database']}): complete launch, up to the page shown",
            "ms",
            ours,
            command,
            "bare pylti1p3",
            bare,
            notes=[
                "login + platform authorization + launch POST + redirects to the landing page; "
                "tool and platform threaded Werkzeug servers in one process"
            ],
        ),
        Figure(
            BENCH,
            f"one at a time ({summary['database']}): until the launch POST is answered",
            "ms",
            answered["skillsign"],
            command,
            "bare pylti1p3",
            answered["bare_pylti1p3"],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=200)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SKILLSIGN_BENCH_DATABASE_URL"),
        help="default: SQLite",
    )
    args = parser.parse_args()
    if not 1 <= args.launches <= 10000:
        parser.error("--launches: 1 to 10000")
    print_figures(figures(args.launches, args.database_url))


if __name__ == "__main__":
    main()
