"""Real processes for the crash and two-host tests: ``skillsign worker`` and gunicorn.

Each runs in its own session (process group), so a test can SIGKILL exactly what it
started, children included, and nothing else. Settings reach them the production way:
``SKILLSIGN_*`` environment variables, the same database, key store and secret as the app
under test. Output goes to a log file the test can read (and show when a process fails).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tool_env(app: Any, instance_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a process serving the same tool as ``app``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLSIGN_")}
    env.update(
        SKILLSIGN_ENV="test",
        SKILLSIGN_DATABASE_URL=app.config["DATABASE_URL"],
        SKILLSIGN_INSTANCE_DIR=str(instance_dir),
        SKILLSIGN_KEYS_DIR=app.config["KEYS_DIR"],
        SKILLSIGN_SECRET_KEY=app.config["SECRET_KEY"],
        SKILLSIGN_BASE_URL=app.config["BASE_URL"],
        SKILLSIGN_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Process:
    """A child process in its own process group, logging to ``log``."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args = args
        self.log = log
        self._log_file = log.open("ab")
        self.popen = subprocess.Popen(
            args,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole group: no handler runs, nothing is flushed or committed."""
        self._signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            self._log_file.close()
            return
        self._signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.popen.wait(10)
        self._log_file.close()

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.popen.pid, sig)  # the group this Popen created, and only it


def worker(env: dict[str, str], log: Path, *, poll: float = 0.2, lease: float = 300.0) -> Process:
    return Process(
        [
            str(BIN / "skillsign"),
            "worker",
            "--poll-seconds",
            str(poll),
            "--lease-seconds",
            str(lease),
        ],
        env,
        log,
    )


def gunicorn(env: dict[str, str], log: Path, port: int, *, workers: int = 2) -> Process:
    process = Process(
        [
            str(BIN / "gunicorn"),
            "--workers",
            str(workers),
            "--threads",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "5",
            "lti_app:create_app()",
        ],
        env,
        log,
    )
    wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
    return process


def wait_until_up(url: str, process: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise AssertionError(f"{process.args[0]} exited:\n{process.output()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {timeout} s:\n{process.output()[-3000:]}")


def wait_for(condition: Any, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
