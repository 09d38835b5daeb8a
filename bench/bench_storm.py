"""Launch storm: a class of N learners opening the activity at once, on the production setup.

skillsign runs under gunicorn (2 sync workers, ``lti_app:create_app()``, SKILLSIGN_* settings)
on PostgreSQL (a schema of its own, migrated with ``skillsign db upgrade``, dropped at the end)
with the seed framework; the platforms (bench/storm_platform.py, PyPI ``lti1p3platform``)
sign real RS256 id_tokens in a process of their own. Two floors, under the same gunicorn
setup and in the same run: the bare floor (bench/bare_tool.py, a pylti1p3 Flask tool that
only validates the launch) and the secure floor (the same tool that also consumes the nonce
in PostgreSQL and upserts the user: what any tool safe behind several workers must do).

An asyncio + httpx driver makes N concurrent complete launches, each as a browser would:
the tool's OIDC login, the platform's authorization, the launch POST and every redirect up to
the page the learner lands on (skillsign: the learner's checklist). skillsign twice: first
launches (the course and its N learners are created) and return launches; each floor once.
Per phase and tool:

* latency of each complete launch (median, p95, p99), throughput, errors;
* the tool's CPU per launch (its gunicorn workers' user + system time; for skillsign and
  the secure floor also their PostgreSQL backends'), which is what the launch costs whatever
  else runs on the machine; goals: <= 3.0 x the bare floor, <= 1.5 x the secure floor;
* median latency: goal <= 2.5 x the bare floor's;
* the tool's own server time per launch (gunicorn's ``%(D)s``, all requests of a launch).

    .venv/bin/python bench/bench_storm.py [--learners 500] [--concurrency N] [--returning N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.common import (  # noqa: E402
    SEED,
    Figure,
    Gunicorn,
    command_line,
    cpu_seconds,
    postgres_schema,
    postgres_url,
    run_cli,
    stop_process,
)

BENCH = "launch storm"
PHASE_TIMEOUT = 240.0  # seconds, per phase and tool
REQUEST_TIMEOUT = 60.0


class _Form(HTMLParser):
    """The platform's auto-submitting launch form: its action and hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")


@dataclass
class Launch:
    ok: bool
    seconds: float
    error: str | None = None


async def complete_launch(
    platform_url: str, user: str, transport: httpx.AsyncHTTPTransport, lands_on: str
) -> Launch:
    """One learner: the course page link, then the launch as a browser walks it. Each
    learner has a cookie jar of its own; connections come from the shared ``transport``
    (a client with a transport of its own builds an SSL context: 25 ms of the driver's CPU
    per launch, more than the tool spends)."""
    http = httpx.AsyncClient(transport=transport, timeout=REQUEST_TIMEOUT, trust_env=False)
    # Not closed: closing a client closes the shared transport.
    try:
        page = await http.get(f"{platform_url}/start", params={"user": user})
        page.raise_for_status()
        start = time.perf_counter()
        login = await http.get(page.text)
        if login.status_code != 302:
            return Launch(False, 0.0, f"login {login.status_code}")
        auth = await http.get(login.headers["location"])
        if auth.status_code != 200:
            return Launch(False, 0.0, f"platform auth {auth.status_code}")
        form = _Form()
        form.feed(auth.text)
        if not form.action:
            return Launch(False, 0.0, "no launch form")
        answer = await http.post(form.action, data=form.fields)
        for _ in range(5):  # the launch's redirects up to the landing page
            if answer.status_code not in (302, 303):
                break
            answer = await http.get(urljoin(str(answer.url), answer.headers["location"]))
        seconds = time.perf_counter() - start
        if answer.status_code != 200:
            return Launch(False, seconds, f"landing {answer.status_code}")
        if not answer.url.path.endswith(lands_on):
            return Launch(False, seconds, f"landed on {answer.url.path}, not {lands_on}")
        return Launch(True, seconds)
    except httpx.HTTPError as error:
        return Launch(False, 0.0, f"{type(error).__name__}: {error}")


async def storm(
    platform_url: str, users: list[str], concurrency: int, lands_on: str
) -> tuple[list[Launch], float]:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    async with httpx.AsyncHTTPTransport(limits=limits) as transport:

        async def one(user: str) -> Launch:
            async with gate:
                return await complete_launch(platform_url, user, transport, lands_on)

        started = time.perf_counter()
        results = await asyncio.wait_for(
            asyncio.gather(*(one(u) for u in users)), timeout=PHASE_TIMEOUT
        )
        return list(results), time.perf_counter() - started


@dataclass
class PhaseResult:
    tool: str
    phase: str
    launches: list[Launch]
    wall_s: float
    cpu_s: float  # the tool's workers
    db_cpu_s: float  # the tool's PostgreSQL backends (skillsign and the secure floor)
    server_ms: float  # sum of the tool's request times
    requests: int
    errors: dict[str, int] = field(default_factory=dict)
    paths: dict[str, list[float]] = field(default_factory=dict)  # server ms per request

    @property
    def ok(self) -> list[float]:
        return [launch.seconds * 1000 for launch in self.launches if launch.ok]

    @property
    def throughput(self) -> float:
        return len(self.ok) / self.wall_s if self.wall_s else 0.0

    def per_launch(self, total: float) -> float:
        return total / max(1, len(self.ok))


class PostgresBackends:
    """CPU time of the PostgreSQL backends serving one application_name (same machine)."""

    def __init__(self, server_url: str, application_name: str) -> None:
        from lti_app.db.engine import make_engine

        self.engine = make_engine(server_url)
        self.application_name = application_name
        self.seen: dict[int, float] = {}

    def cpu(self) -> float:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": self.application_name},
            ).scalars()
            for pid in pids:
                self.seen[pid] = max(self.seen.get(pid, 0.0), cpu_seconds(pid))
        return sum(self.seen.values())

    def close(self) -> None:
        self.engine.dispose()


@contextlib.contextmanager
def platform_process(tools: dict[str, str], custom: dict[str, str]) -> Iterator[dict[str, Any]]:
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "storm_platform.py"),
            json.dumps({"tools": tools, "custom": custom}),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the storm platform did not start")
        yield json.loads(line)
    finally:
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        stop_process(process)


def run_phase(
    tool: str,
    phase: str,
    server: Gunicorn,
    platform_url: str,
    users: list[str],
    concurrency: int,
    backends: PostgresBackends | None,
) -> PhaseResult:
    logged = len(server.requests())
    cpu_before = server.workers_cpu()
    db_before = backends.cpu() if backends else 0.0
    # skillsign's learners land on their checklist; the floor answers the launch POST itself.
    lands_on = "/checklist" if tool == "ours" else "/lti/launch"
    launches, wall = asyncio.run(storm(platform_url, users, concurrency, lands_on))
    time.sleep(0.3)  # gunicorn writes the access log line after the response
    requests = server.requests()[logged:]
    errors: dict[str, int] = {}
    for launch in launches:
        if not launch.ok:
            key = (launch.error or "?")[:80]
            errors[key] = errors.get(key, 0) + 1
    paths: dict[str, list[float]] = {}
    for _method, path, status, ms in requests:
        key = f"{re.sub(r'^/s/[^/]+', '/s/<session>', path)} {status}"
        paths.setdefault(key, []).append(ms)
    return PhaseResult(
        tool=tool,
        phase=phase,
        launches=launches,
        wall_s=wall,
        cpu_s=server.workers_cpu() - cpu_before,
        db_cpu_s=(backends.cpu() - db_before) if backends else 0.0,
        server_ms=sum(ms for *_, ms in requests),
        requests=len(requests),
        errors=errors,
        paths=paths,
    )


def figures(
    learners: int = 500, concurrency: int | None = None, returning: int | None = None
) -> list[Figure]:
    """Run the storm; the figures for RESULTS.md (an empty list without PostgreSQL).
    ``returning``: how many of the learners launch a second time (default: all)."""
    server_url = postgres_url()
    if server_url is None:
        print("launch storm: skipped, no PostgreSQL server (SKILLSIGN_BENCH_DATABASE_URL)")
        return []
    concurrency = concurrency or learners
    returning = min(learners, returning or learners)
    argv = [
        "bench/bench_storm.py",
        "--learners",
        str(learners),
        "--concurrency",
        str(concurrency),
        "--returning",
        str(returning),
    ]
    command = command_line(argv)
    results: list[PhaseResult] = []
    rss: dict[str, dict[int, float]] = {}
    app_name = f"skillsign-storm-{secrets.token_hex(3)}"
    secure_name = f"secure-floor-{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="skillsign-storm-") as tmp:
        workdir = Path(tmp)
        with postgres_schema(server_url) as url:
            sep = "&" if "?" in url else "?"
            env = {
                "SKILLSIGN_ENV": "development",
                "SKILLSIGN_DATABASE_URL": f"{url}{sep}application_name={app_name}",
                "SKILLSIGN_INSTANCE_DIR": str(workdir / "instance"),
                "SKILLSIGN_SECRET_KEY": secrets.token_urlsafe(32),
                "SKILLSIGN_LOG_LEVEL": "INFO",
            }
            ours = Gunicorn("lti_app:create_app()", {}, workdir)
            bare = Gunicorn("bench.bare_tool:create_app()", {}, workdir)
            secure = Gunicorn("bench.bare_tool:create_app()", {}, workdir)
            env["SKILLSIGN_BASE_URL"] = ours.url
            run_cli(["db", "upgrade"], env)
            run_cli(["keys", "ensure"], env)
            imported = json.loads(
                run_cli(["frameworks", "import", str(SEED), "--json"], env).stdout
            )
            (framework,) = [
                row
                for row in json.loads(run_cli(["frameworks", "list", "--json"], env).stdout)
                if row["id"] == imported["id"]
            ]
            # The link is pinned to the seed framework by its first launch (custom parameters).
            custom = {
                "skillsign_framework": framework["identifier"],
                "skillsign_version": framework["version"],
            }
            tools = {"ours": ours.url, "bare": bare.url, "secure": secure.url}
            with platform_process(tools, custom) as platforms:
                p_ours, p_bare = platforms["ours"], platforms["bare"]
                p_secure = platforms["secure"]
                run_cli(
                    [
                        "platforms",
                        "add",
                        "--issuer",
                        p_ours["issuer"],
                        "--client-id",
                        p_ours["client_id"],
                        "--auth-login-url",
                        p_ours["auth_login_url"],
                        "--auth-token-url",
                        p_ours["auth_token_url"],
                        "--jwks-url",
                        p_ours["key_set_url"],
                        "--deployment-id",
                        p_ours["deployment_id"],
                        "--name",
                        "Storm platform",
                    ],
                    env,
                )
                config = workdir / "bare.json"
                config.write_text(json.dumps(p_bare), encoding="utf-8")
                secure_config = workdir / "secure.json"
                secure_config.write_text(json.dumps(p_secure), encoding="utf-8")
                ours.env = env
                bare.env = {
                    "BARE_LTI_CONFIG": str(config),
                    "BARE_LTI_SECRET_KEY": secrets.token_urlsafe(32),
                }
                secure.env = {
                    "BARE_LTI_CONFIG": str(secure_config),
                    "BARE_LTI_SECRET_KEY": secrets.token_urlsafe(32),
                    # Its own tables in the run's schema, its own backends to measure.
                    "BARE_SECURE_DATABASE_URL": f"{url}{sep}application_name={secure_name}",
                }
                backends = PostgresBackends(server_url, app_name)
                secure_backends = PostgresBackends(server_url, secure_name)
                try:
                    with ours.start("/healthz"), bare.start("/healthz"), secure.start("/healthz"):
                        # Warm-up (not counted): imports, key caches, connection pools, the
                        # link pinned to the framework by its first launch.
                        for tool, server, platform in (
                            ("ours", ours, p_ours),
                            ("bare", bare, p_bare),
                            ("secure", secure, p_secure),
                        ):
                            warm = [f"warm-{i}" for i in range(10)]
                            result = run_phase(
                                tool, "warm-up", server, platform["url"], warm, 5, None
                            )
                            if result.errors:
                                raise RuntimeError(f"{tool} warm-up failed: {result.errors}")
                        users = [f"learner-{i:04d}" for i in range(learners)]
                        # The bare floor keeps no state: its first and return launches are
                        # alike, so it runs once; so does the secure floor (its first launches,
                        # which create its users). skillsign's first launches create the
                        # course's users and memberships; its return launches find them.
                        measured = {"ours": backends, "secure": secure_backends}
                        for tool, phase, server, platform, who in (
                            ("bare", "launch", bare, p_bare, users),
                            ("secure", "launch", secure, p_secure, users),
                            ("ours", "first launch", ours, p_ours, users),
                            ("ours", "return launch", ours, p_ours, users[:returning]),
                        ):
                            results.append(
                                run_phase(
                                    tool,
                                    phase,
                                    server,
                                    platform["url"],
                                    who,
                                    concurrency,
                                    measured.get(tool),
                                )
                            )
                        rss = {
                            "ours": ours.workers_rss(),
                            "bare": bare.workers_rss(),
                            "secure": secure.workers_rss(),
                        }
                finally:
                    backends.close()
                    secure_backends.close()
    return _figures(results, rss, command, learners, concurrency)


def _prefixed(paths: dict[str, list[float]], name: str = "floor") -> dict[str, list[float]]:
    return {f"{name} {path}": ms for path, ms in paths.items()}


def _figures(
    results: list[PhaseResult],
    rss: dict[str, dict[int, float]],
    command: str,
    learners: int,
    concurrency: int,
) -> list[Figure]:
    out: list[Figure] = []
    by = {(r.tool, r.phase): r for r in results}
    bare = by[("bare", "launch")]
    secure = by[("secure", "launch")]
    for phase in ("first launch", "return launch"):
        ours = by[("ours", phase)]
        notes = [
            f"{len(ours.launches)} learners, {concurrency} at once; skillsign {len(ours.ok)} ok, "
            f"{len(ours.launches) - len(ours.ok)} errors {ours.errors or ''}; floor "
            f"{len(bare.ok)} ok, {len(bare.launches) - len(bare.ok)} errors {bare.errors or ''}; "
            f"secure floor {len(secure.ok)} ok, {len(secure.launches) - len(secure.ok)} errors "
            f"{secure.errors or ''}",
            f"throughput: skillsign {ours.throughput:.1f} launches/s in {ours.wall_s:.1f} s, "
            f"floor {bare.throughput:.1f} launches/s in {bare.wall_s:.1f} s, secure floor "
            f"{secure.throughput:.1f} launches/s in {secure.wall_s:.1f} s",
            f"requests per launch: skillsign {ours.requests / max(1, len(ours.ok)):.1f}, "
            f"floor {bare.requests / max(1, len(bare.ok)):.1f}; median server ms per request: "
            + ", ".join(
                f"{path} {statistics.median(ms):.1f} (x{len(ms)})"
                for path, ms in sorted(
                    {
                        **ours.paths,
                        **_prefixed(bare.paths),
                        **_prefixed(secure.paths, "secure floor"),
                    }.items()
                )
            ),
        ]
        ours_ms = statistics.median(ours.ok) if ours.ok else 0.0
        bare_ms = statistics.median(bare.ok) if bare.ok else 0.0
        out.append(
            Figure(
                BENCH,
                f"{phase}: complete launch latency",
                "ms",
                ours.ok or [0.0],
                command,
                "bare pylti1p3",
                bare.ok or [0.0],
                goal="median ratio <= 2.5, 0 errors",
                met=bool(bare_ms)
                and ours_ms / bare_ms <= 2.5
                and len(ours.ok) == len(ours.launches),
                notes=notes,
            )
        )
        out.append(
            Figure(
                BENCH,
                f"{phase}: complete launch latency vs the secure floor",
                "ms",
                ours.ok or [0.0],
                command,
                "secure floor",
                secure.ok or [0.0],
            )
        )
        out.append(
            Figure(
                BENCH,
                f"{phase}: throughput",
                "launches/s",
                [ours.throughput],
                command,
                "bare pylti1p3",
                [bare.throughput],
                higher_is_better=True,
            )
        )
        tool_cpu = ours.per_launch(ours.cpu_s) * 1000
        total_cpu = ours.per_launch(ours.cpu_s + ours.db_cpu_s) * 1000
        bare_cpu = bare.per_launch(bare.cpu_s) * 1000
        secure_tool = secure.per_launch(secure.cpu_s) * 1000
        secure_cpu = secure.per_launch(secure.cpu_s + secure.db_cpu_s) * 1000
        out.append(
            Figure(
                BENCH,
                f"{phase}: CPU per launch, tool workers + its PostgreSQL backends",
                "ms",
                [total_cpu],
                command,
                "bare pylti1p3",
                [bare_cpu],
                goal="ratio <= 3.0",
                met=(total_cpu / bare_cpu) <= 3.0 if bare_cpu else None,
                notes=[
                    f"skillsign workers {tool_cpu:.1f} ms + PostgreSQL "
                    f"{total_cpu - tool_cpu:.1f} ms; floor workers {bare_cpu:.1f} ms; secure "
                    f"floor workers {secure_tool:.1f} ms + PostgreSQL "
                    f"{secure_cpu - secure_tool:.1f} ms"
                ],
            )
        )
        out.append(
            Figure(
                BENCH,
                f"{phase}: CPU per launch vs the secure floor",
                "ms",
                [total_cpu],
                command,
                "secure floor",
                [secure_cpu],
                goal="ratio <= 1.5",
                met=(total_cpu / secure_cpu) <= 1.5 if secure_cpu else None,
            )
        )
        out.append(
            Figure(
                BENCH,
                f"{phase}: server time per launch (sum of its requests)",
                "ms",
                [ours.per_launch(ours.server_ms)],
                command,
                "bare pylti1p3",
                [bare.per_launch(bare.server_ms)],
            )
        )
    if rss:
        out[0].notes.append(
            "gunicorn worker RSS at the end (MiB): "
            + "; ".join(
                f"{tool} " + ", ".join(f"{v:.0f}" for v in sorted(values.values()))
                for tool, values in rss.items()
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=None, help="default: all at once")
    parser.add_argument("--returning", type=int, default=None, help="default: all learners")
    args = parser.parse_args()
    if not 1 <= args.learners <= 5000:
        parser.error("--learners: 1 to 5000")
    if args.concurrency is not None and not 1 <= args.concurrency <= args.learners:
        parser.error("--concurrency: 1 to --learners")
    from bench.report import print_figures

    print_figures(figures(args.learners, args.concurrency, args.returning))


if __name__ == "__main__":
    main()
