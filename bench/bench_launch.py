"""Launch latency: skillsign vs a bare pylti1p3 Flask tool, same platform, same run.

A complete launch is what a person waits for: the OIDC login, the platform's
authorization step, the launch POST and the page the tool shows. skillsign's
launch does login + launch + landing page (a 303 to ``/s/<token>/``); the bare
tool validates the launch with pylti1p3 (its public key cache on, its best
case) and answers the launch POST with a page directly.

Both tools and the platform (PyPI ``lti1p3platform``, from tests/support) run
on 127.0.0.1 in this process, each served by a threaded Werkzeug server;
launches alternate between the two tools so drift hits both alike.

    .venv/bin/python bench/bench_launch.py [--launches 200] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from flask import Flask, request  # noqa: E402
from pylti1p3.contrib.flask import (  # noqa: E402
    FlaskCacheDataStorage,
    FlaskMessageLaunch,
    FlaskOIDCLogin,
    FlaskRequest,
)
from pylti1p3.tool_config import ToolConfDict  # noqa: E402
from support.lti_platform import INSTRUCTOR, LEARNER, Browser, LaunchPlatform, LaunchSpec  # noqa: E402
from support.servers import serve  # noqa: E402

from frameworks import load  # noqa: E402
from lti_app import create_app  # noqa: E402
from lti_app.lti.tool_keys import tool_keys  # noqa: E402
from lti_app.migrate import upgrade  # noqa: E402
from lti_app.request_db import database  # noqa: E402
from lti_app.services.frameworks import import_framework  # noqa: E402


class MemoryCache:
    """The cache pylti1p3's FlaskCacheDataStorage expects (get / set with a timeout)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any:
        found = self._data.get(key)
        if found is None or (found[0] and found[0] < time.time()):
            return None
        return found[1]

    def set(self, key: str, value: Any, exp: int | None = None) -> None:
        self._data[key] = ((time.time() + exp) if exp else 0.0, value)


def bare_pylti1p3_tool(platform: LaunchPlatform) -> Flask:
    app = Flask("bare_pylti1p3")
    app.secret_key = "bench"
    cache = MemoryCache()
    config = {
        platform.issuer: [
            {
                "default": True,
                "client_id": platform.client_id,
                "auth_login_url": platform.auth_url,
                "auth_token_url": platform.token_url,
                "key_set_url": platform.jwks_url,
                "deployment_ids": [platform.deployment_id],
            }
        ]
    }

    def storage() -> FlaskCacheDataStorage:
        store = FlaskCacheDataStorage(cache)
        return store

    @app.route("/lti/login", methods=["GET", "POST"])
    def login() -> Any:
        login = FlaskOIDCLogin(FlaskRequest(), ToolConfDict(config), launch_data_storage=storage())
        return login.redirect(request.values["target_link_uri"])

    @app.post("/lti/launch")
    def launch() -> Any:
        message = FlaskMessageLaunch(
            FlaskRequest(), ToolConfDict(config), launch_data_storage=storage()
        )
        message.set_public_key_caching(storage(), cache_lifetime=7200)
        data = message.get_launch_data()
        return f"<!doctype html><title>ok</title><p>hello {data.get('sub')}</p>"

    return app


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(launches: int, database_url: str | None) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="skillsign-bench-"))
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
    with ours.app_context():
        tool_keys().active_kid()  # as `skillsign keys ensure` does on a real install
    ours_server = serve(ours)
    ours.config["BASE_URL"] = ours_server.url
    platform = LaunchPlatform().start()
    bare_server = serve(bare_pylti1p3_tool(platform))
    platform.connect(ours_server.url)
    platform.register_in(ours)
    seed = ROOT / "frameworks" / "data" / "psychiatric-technicians.json"
    with ours.app_context(), database(ours).transaction() as db:
        version = import_framework(db, load(seed), "ler").version
        custom = {"skillsign_framework": version.identifier, "skillsign_version": version.version}

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
            raise SystemExit(f"launch failed on {tool_url}: {final.status_code} {final.text[:300]}")
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

    platform.stop()
    ours_server.stop()
    bare_server.stop()
    summary: dict[str, Any] = {
        "launches": launches,
        "database": url.split(":")[0],
        "cpus": os.cpu_count(),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=200)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SKILLSIGN_BENCH_DATABASE_URL"),
        help="default: SQLite",
    )
    args = parser.parse_args()
    print(json.dumps(run(args.launches, args.database_url), indent=2))


if __name__ == "__main__":
    main()
