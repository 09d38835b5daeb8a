"""What every benchmark here shares: figures, percentiles, the machine, PostgreSQL schemas,
servers in subprocesses (gunicorn), and process memory and CPU read from /proc.

Everything binds 127.0.0.1 only, every server and schema is stopped or dropped on the way
out (also on failure), and every loop is bounded in count and in time.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SEED = ROOT / "frameworks" / "data" / "psychiatric-technicians.json"


# --------------------------------------------------------------------------- figures


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty sample."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Figure:
    """One measured quantity with its baseline from the same run.

    ``samples`` are the raw measurements (ms, s, ...); ``baseline`` is the median of the
    baseline's samples, and the ratio is ours / baseline (for a throughput, where more is
    better, the baseline's over ours, so that a ratio above 1 always means "costs more").
    """

    bench: str
    name: str
    unit: str
    samples: list[float]
    command: str
    baseline_name: str | None = None
    baseline_samples: list[float] | None = None
    higher_is_better: bool = False
    goal: str | None = None
    met: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 0.95)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 0.99)

    @property
    def baseline_median(self) -> float | None:
        if not self.baseline_samples:
            return None
        return statistics.median(self.baseline_samples)

    @property
    def ratio(self) -> float | None:
        base = self.baseline_median
        if base is None or base == 0 or self.median == 0:
            return None
        return base / self.median if self.higher_is_better else self.median / base


def figure_row(fig: Figure) -> str:
    def num(value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"

    ratio = "-" if fig.ratio is None else f"{fig.ratio:.2f}"
    goal = fig.goal or ""
    if fig.met is not None:
        goal = f"{goal} ({'met' if fig.met else 'NOT met'})".strip()
    baseline = (
        f"{fig.baseline_name}: {num(fig.baseline_median)}" if fig.baseline_name is not None else "-"
    )
    return (
        f"| {fig.name} | {fig.unit} | {len(fig.samples)} | {num(fig.median)} | {num(fig.p95)} "
        f"| {num(fig.p99)} | {baseline} | {ratio} | {goal} |"
    )


# --------------------------------------------------------------------------- the machine


def _meminfo() -> dict[str, int]:
    found: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            found[key] = int(rest.split()[0])  # kB
    return found


def cpu_pressure() -> str | None:
    """The kernel's CPU pressure (share of time some task waited for a CPU), if known."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return line.removeprefix("some ").strip()


def _spin(_: int) -> float:
    started = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i
    return time.perf_counter() - started


def free_cores() -> float:
    """How many cores this run really has: a fixed loop alone, then as many copies as there
    are CPUs in parallel (the time of one over the time of the many, times their number).
    Another job on the machine shows here: 2 CPUs with one busy elsewhere give about 1."""
    import multiprocessing

    cpus = os.cpu_count() or 1
    alone = min(_spin(0) for _ in range(2))
    with multiprocessing.get_context("spawn").Pool(cpus) as pool:
        pool.map(_spin, range(cpus))  # started and warm
        started = time.perf_counter()
        pool.map(_spin, range(cpus))
        together = time.perf_counter() - started
    return round(min(cpus, cpus * alone / together), 2)


def machine(probe: bool = True) -> dict[str, Any]:
    mem = _meminfo()
    return {
        "nproc": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
        or str(os.cpu_count()),
        "memory_total_gib": round(mem.get("MemTotal", 0) / 1024 / 1024, 1),
        "memory_available_gib": round(mem.get("MemAvailable", 0) / 1024 / 1024, 1),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "cpu_pressure": cpu_pressure(),
        "free_cores": free_cores() if probe else None,
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def command_line(argv: Sequence[str] | None = None) -> str:
    return shlex.join([".venv/bin/python", *(argv if argv is not None else sys.argv)])


# --------------------------------------------------------------------------- PostgreSQL


def postgres_url() -> str | None:
    """The server to use: SKILLSIGN_BENCH_DATABASE_URL, else SKILLSIGN_TEST_DATABASE_URL, else
    the local default if it answers; None when there is none (PostgreSQL figures are skipped)."""
    url = os.environ.get("SKILLSIGN_BENCH_DATABASE_URL") or os.environ.get(
        "SKILLSIGN_TEST_DATABASE_URL"
    )
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return DEFAULT_PG_URL
    except OSError:
        return None


@contextlib.contextmanager
def postgres_schema(server_url: str, prefix: str = "skillsign_bench") -> Iterator[str]:
    """A fresh schema for this run; yields a URL whose connections use it. Dropped on exit,
    whatever happens."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from lti_app.db.engine import make_engine

    schema = f"{prefix}_{secrets.token_hex(4)}"
    admin = make_engine(server_url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers (any status); fail fast if ``process`` has exited."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM to the process group (gunicorn and its workers), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (gunicorn's workers)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found.extend(int(p) for p in (task / "children").read_text().split())
    return found


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class RssSampler:
    """Samples the resident memory of a process and its children every ``interval`` seconds,
    in a thread, until stopped: the peak per process is what a capacity plan needs."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak: dict[int, float] = {}
        self.role: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid, role in [(self.pid, "main"), *((c, "worker") for c in children(self.pid))]:
                value = rss_mib(pid)
                if value is not None:
                    self.peak[pid] = max(value, self.peak.get(pid, 0.0))
                    self.role.setdefault(pid, role)
            self._stop.wait(self.interval)


@dataclass
class Gunicorn:
    """``gunicorn -w N 'app'`` on 127.0.0.1 in its own process group, with an access log
    that records each request's server time (``%(D)s``, microseconds)."""

    app: str
    env: Mapping[str, str]
    workdir: Path
    workers: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.workdir / f"access-{self.port}.log"

    @property
    def error_log(self) -> Path:
        return self.workdir / f"error-{self.port}.log"

    def start(self, ready_path: str = "/") -> Gunicorn:
        command = [
            str(VENV_BIN / "gunicorn"),
            "--workers",
            str(self.workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--backlog",
            "2048",
            "--timeout",
            "120",
            "--access-logfile",
            str(self.access_log),
            "--access-logformat",
            "%(m)s %(U)s %(s)s %(D)s",
            "--error-logfile",
            str(self.error_log),
            self.app,
        ]
        env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        with open(self.workdir / f"stdio-{self.port}.log", "ab") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_http(self.url + ready_path, timeout=60, process=self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def workers_pids(self) -> list[int]:
        assert self.process is not None
        return children(self.process.pid)

    def workers_cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.workers_pids())

    def workers_rss(self) -> dict[int, float]:
        return {pid: rss_mib(pid) or 0.0 for pid in self.workers_pids()}

    def requests(self) -> list[tuple[str, str, int, float]]:
        """(method, path, status, server ms) of every request logged so far."""
        rows = []
        if self.access_log.exists():
            for line in self.access_log.read_text().splitlines():
                parts = line.split()
                if len(parts) == 4 and parts[2].isdigit() and parts[3].isdigit():
                    rows.append((parts[0], parts[1], int(parts[2]), int(parts[3]) / 1000))
        return rows

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def __enter__(self) -> Gunicorn:
        return self if self.process is not None else self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def run_cli(
    args: Sequence[str], env: Mapping[str, str], timeout: float = 300
) -> subprocess.CompletedProcess:
    """``skillsign ARGS`` in a subprocess; raises with its output on failure."""
    completed = subprocess.run(
        [str(VENV_BIN / "skillsign"), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"skillsign {' '.join(args)} failed ({completed.returncode}):\n"
            f"{completed.stdout}\n{completed.stderr}"
        )
    return completed
