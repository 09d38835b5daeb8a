"""Verify API throughput: concurrent clients posting a credential to ``/api/v1/verify``.

The service runs as in production: gunicorn (2 sync workers, ``lti_app:create_app()``) on
PostgreSQL (a schema of its own, migrated with ``skillsign db upgrade``, dropped at the end).
One real credential is issued first (``skillsign signoffs import``) and exported
(``skillsign credentials export``); an asyncio + httpx driver then posts it from C concurrent
clients. The rate limit on the endpoint is raised through its setting
(``SKILLSIGN_RATELIMIT_VERIFY``), not removed.

The baseline is the same verification done by the library in one process, no HTTP: the
credentials package's pipeline fed with the same DID document and status list
(lti_app.services.verification.verify), single-threaded. Per request, the API's CPU (its
workers' user + system time) over the library's time is what HTTP, Flask and the database
add; with 2 workers the ideal throughput is twice the library's rate.

    .venv/bin/python bench/bench_verify.py [--requests 300] [--concurrency 1,8,32]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.common import (  # noqa: E402
    SEED,
    Figure,
    Gunicorn,
    command_line,
    postgres_schema,
    postgres_url,
    run_cli,
)
from lti_app.services import signoff_import  # noqa: E402

BENCH = "verify API"
IMPORT_ISSUER = "https://records.bench.example"
PHASE_TIMEOUT = 120.0


def issue_one(env: dict[str, str], workdir: Path) -> bytes:
    """One real credential, issued and exported through the CLI; its JSON bytes."""
    framework = json.loads(run_cli(["frameworks", "import", str(SEED), "--json"], env).stdout)
    level = framework["levels"][0]
    run_cli(
        [
            "platforms",
            "add",
            "--issuer",
            IMPORT_ISSUER,
            "--client-id",
            "bench",
            "--auth-login-url",
            f"{IMPORT_ISSUER}/auth",
            "--auth-token-url",
            f"{IMPORT_ISSUER}/token",
            "--jwks-url",
            f"{IMPORT_ISSUER}/jwks",
        ],
        env,
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(signoff_import.COLUMNS)
    for position in range(1, level["statements"] + 1):
        writer.writerow(
            [
                IMPORT_ISSUER,
                "verify-learner",
                "Vera Fier",
                "vera@example.edu",
                "course-1",
                framework.get("identifier") or framework["id"],
                framework["version"],
                level["key"],
                position,
                "Paper record",
                "2024-05-01T10:00:00Z",
                "",
            ]
        )
    path = workdir / "one.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    report = json.loads(run_cli(["signoffs", "import", str(path), "--json"], env).stdout)
    (credential_id,) = report["credentials_issued"]
    return run_cli(
        ["credentials", "export", credential_id, "--format", "json"], env
    ).stdout.encode()


def library_ms(env: dict[str, str], body: bytes, runs: int) -> list[float]:
    """The pipeline in this process, one call at a time, against the same database."""
    from lti_app import create_app
    from lti_app.request_db import database
    from lti_app.services import verification

    app = create_app(
        {
            "ENV": env["SKILLSIGN_ENV"],
            "DATABASE_URL": env["SKILLSIGN_DATABASE_URL"],
            "INSTANCE_DIR": env["SKILLSIGN_INSTANCE_DIR"],
            "SECRET_KEY": env["SKILLSIGN_SECRET_KEY"],
            "BASE_URL": env["SKILLSIGN_BASE_URL"],
            "LOG_LEVEL": "WARNING",
        }
    )
    times: list[float] = []
    try:
        with app.app_context():
            for i in range(runs + 5):
                start = time.perf_counter()
                with database(app).transaction() as session:
                    result = verification.verify(session, body)
                elapsed = (time.perf_counter() - start) * 1000
                if result.status != "valid":
                    raise RuntimeError(f"the credential does not verify: {result.to_dict()}")
                if i >= 5:  # warm-up: imports, contexts, key and list caches
                    times.append(elapsed)
    finally:
        database(app).dispose()
    return times


async def drive(
    url: str, body: bytes, total: int, concurrency: int
) -> tuple[list[float], int, float]:
    """``total`` POSTs from ``concurrency`` clients; (latencies ms, errors, wall s)."""
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def client() -> None:
        nonlocal errors
        async with httpx.AsyncClient(timeout=60, trust_env=False) as http:
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                try:
                    response = await http.post(
                        f"{url}/api/v1/verify",
                        content=body,
                        headers={"Content-Type": "application/json"},
                    )
                    ok = response.status_code == 200 and response.json().get("status") == "valid"
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append((time.perf_counter() - start) * 1000)
                else:
                    errors += 1

    started = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*(client() for _ in range(concurrency))), timeout=PHASE_TIMEOUT
    )
    return latencies, errors, time.perf_counter() - started


def figures(requests: int = 300, concurrency: tuple[int, ...] = (1, 8, 32)) -> list[Figure]:
    server_url = postgres_url()
    if server_url is None:
        print("verify API: skipped, no PostgreSQL server (SKILLSIGN_BENCH_DATABASE_URL)")
        return []
    argv = [
        "bench/bench_verify.py",
        "--requests",
        str(requests),
        "--concurrency",
        ",".join(map(str, concurrency)),
    ]
    command = command_line(argv)
    out: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="skillsign-verify-") as tmp:
        workdir = Path(tmp)
        with postgres_schema(server_url) as url:
            server = Gunicorn("lti_app:create_app()", {}, workdir)
            env = {
                "SKILLSIGN_ENV": "development",
                "SKILLSIGN_DATABASE_URL": url,
                "SKILLSIGN_INSTANCE_DIR": str(workdir / "instance"),
                "SKILLSIGN_SECRET_KEY": secrets.token_urlsafe(32),
                "SKILLSIGN_BASE_URL": server.url,
                "SKILLSIGN_LOG_LEVEL": "INFO",
                # High enough never to refuse the benchmark; the limiter stays in the path.
                "SKILLSIGN_RATELIMIT_VERIFY": "1000000 per minute",
            }
            run_cli(["db", "upgrade"], env)
            run_cli(["keys", "ensure"], env)
            body = issue_one(env, workdir)
            library = library_ms(env, body, runs=60)
            server.env = env
            with server.start("/healthz"):
                _, warm_errors, _ = asyncio.run(drive(server.url, body, 20, 2))
                if warm_errors:
                    raise RuntimeError(f"verify API warm-up: {warm_errors} errors")
                for clients in concurrency:
                    cpu_before = server.workers_cpu()
                    latencies, errors, wall = asyncio.run(
                        drive(server.url, body, requests, clients)
                    )
                    cpu_ms = (server.workers_cpu() - cpu_before) * 1000 / max(1, len(latencies))
                    throughput = len(latencies) / wall
                    ideal = 2 * 1000 / statistics.median(library)
                    out.append(
                        Figure(
                            BENCH,
                            f"{clients} concurrent clients: latency",
                            "ms",
                            latencies or [0.0],
                            command,
                            "library, one call",
                            library,
                            notes=[
                                f"{len(latencies)} verified, {errors} errors in {wall:.1f} s: "
                                f"{throughput:.1f} requests/s; ideal with 2 workers "
                                f"(2 x the library's rate) {ideal:.1f}/s; "
                                f"credential {len(body)} bytes"
                            ],
                        )
                    )
                    out.append(
                        Figure(
                            BENCH,
                            f"{clients} concurrent clients: worker CPU per request",
                            "ms",
                            [cpu_ms],
                            command,
                            "library, one call",
                            library,
                        )
                    )
                    out.append(
                        Figure(
                            BENCH,
                            f"{clients} concurrent clients: throughput",
                            "requests/s",
                            [throughput],
                            command,
                            "ideal (2 x library rate)",
                            [ideal],
                            higher_is_better=True,
                        )
                    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="per concurrency level")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated client counts")
    args = parser.parse_args()
    levels = tuple(int(c) for c in args.concurrency.split(","))
    if not 1 <= args.requests <= 20000 or not all(1 <= c <= 512 for c in levels):
        parser.error("--requests 1-20000, --concurrency levels 1-512")
    from bench.report import print_figures

    print_figures(figures(args.requests, levels))


if __name__ == "__main__":
    main()
