"""``python -m bench``: every benchmark, in one run, into bench/RESULTS.md.

    .venv/bin/python -m bench [--only NAME ...] [--skip NAME ...] [--output PATH]

Sizes are the issue's (500 learners, 40 statements, 1,000 credentials) and the whole suite
keeps within about five minutes on a 2-core machine. PostgreSQL figures need a server:
SKILLSIGN_BENCH_DATABASE_URL, SKILLSIGN_TEST_DATABASE_URL, or one answering on
127.0.0.1:5432 (each benchmark works in a schema of its own and drops it). Without one those
figures are listed as not run. A benchmark that fails is reported as such and the others
still run; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Figure, machine, postgres_url  # noqa: E402
from bench.report import print_figures, write_results  # noqa: E402


def _signing() -> list[Figure]:
    from bench import bench_signing

    return bench_signing.figures(iterations=50)


def _storm() -> list[Figure]:
    from bench import bench_storm

    return bench_storm.figures(learners=500)


def _grid() -> list[Figure]:
    from bench import bench_grid

    return bench_grid.figures(runs=20, learners=500)


def _issuance() -> list[Figure]:
    from bench import bench_issuance

    return bench_issuance.figures(learners=40, credentials=1000, pg_url=postgres_url())


def _verify() -> list[Figure]:
    from bench import bench_verify

    return bench_verify.figures(requests=300, concurrency=(1, 8, 32))


def _launch() -> list[Figure]:
    from bench import bench_launch

    return bench_launch.figures(launches=100)


def _passback() -> list[Figure]:
    from bench import bench_passback

    return bench_passback.figures(launches=50, scores=30)


def _wallet() -> list[Figure]:
    from bench import bench_wallet

    return bench_wallet.figures(claims=50)


# name -> (title in RESULTS.md, what it measures, runner); run in this order.
BENCHMARKS: dict[str, tuple[str, str, Callable[[], list[Figure]]]] = {
    "storm": (
        "launch storm",
        "N learners launch at once on gunicorn (2 workers) + PostgreSQL; two floors on the same "
        "setup: a bare pylti1p3 tool, and the same tool consuming the nonce in PostgreSQL and "
        "upserting the user (the secure floor). Goals: CPU per launch <= 3.0 x the bare floor "
        "and <= 1.5 x the secure floor; median latency <= 2.5 x the bare floor's, 0 errors.",
        _storm,
    ),
    "grid": (
        "instructor grid",
        "The instructor's grid at 500 learners x 40 statements, in process (server time); "
        "baseline: the same page for a class of 50.",
        _grid,
    ),
    "issuance": (
        "bulk issuance",
        "1,000 credentials through `skillsign signoffs import`, as a subprocess; baseline: the "
        "same signatures alone on one core. Also a sign-off that issues against one that "
        "does not.",
        _issuance,
    ),
    "verify": (
        "verify API",
        "Concurrent clients posting a credential to /api/v1/verify on gunicorn (2 workers) + "
        "PostgreSQL; baseline: the library's pipeline in one process.",
        _verify,
    ),
    "signing": (
        "signing",
        "One OB 3.0 credential signed and verified (eddsa-rdfc-2022); baseline: the Node "
        "reference implementation on the same credential and key.",
        _signing,
    ),
    "launch": (
        "launch, one at a time",
        "Sequential complete launches, in process, on SQLite; baseline: the bare pylti1p3 tool.",
        _launch,
    ),
    "wallet": (
        "add to a wallet",
        "One credential claimed through OpenID4VCI (offer URI, token, nonce, credential), "
        "server time, in process on SQLite; baseline: one eddsa-rdfc-2022 signature of the "
        "same credential, alternating with the claims. Goal: <= 2 x.",
        _wallet,
    ),
    "passback": (
        "passback and progress",
        "Cohort progress in one query against one per learner; AGS scores with cached tokens "
        "against a new token per call; a launch from the built-in demo LMS.",
        _passback,
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--skip", nargs="+", choices=sorted(BENCHMARKS), default=[])
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    names = [n for n in (args.only or BENCHMARKS) if n not in args.skip]

    before = machine()
    print(f"machine: {before}", flush=True)
    figures: list[Figure] = []
    durations: dict[str, float] = {}
    skipped: dict[str, str] = {}
    failed = False
    for name in names:
        title, _description, runner = BENCHMARKS[name]
        print(f"\n== {title}", flush=True)
        started = time.monotonic()
        try:
            found = runner()
        except Exception:
            failed = True
            skipped[title] = "FAILED:\n\n```\n" + traceback.format_exc()[-3000:] + "```"
            traceback.print_exc()
            continue
        durations[title] = time.monotonic() - started
        if not found:
            skipped[title] = "no PostgreSQL server to run it against"
            continue
        print_figures(found)
        print(f"({durations[title]:.0f} s)", flush=True)
        figures.extend(found)
    write_results(
        args.output,
        figures,
        before,
        machine(),
        durations,
        skipped,
        {title: description for title, description, _ in BENCHMARKS.values()},
    )
    print(f"\nwrote {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
