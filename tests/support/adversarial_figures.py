"""Figures the adversarial tests measure (cases fuzzed, replays tried, ...), printed at the end.

A test adds to a counter; ``tests/adversarial/conftest.py`` prints every counter in the
terminal summary, so each CI log carries the numbers the suite actually ran.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()
COUNTS: dict[str, int] = defaultdict(int)
SECONDS: dict[str, float] = defaultdict(float)

# The total number of generated cases for one run of the fuzz tests, shared out by weight.
FUZZ_TOTAL_ENV = "SKILLSIGN_FUZZ_EXAMPLES"
FUZZ_TOTAL_DEFAULT = 5200


def add(name: str, count: int = 1) -> None:
    with _LOCK:
        COUNTS[name] += count


@contextmanager
def timed(name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        with _LOCK:
            SECONDS[name] += time.perf_counter() - start


def fuzz_total() -> int:
    raw = os.environ.get(FUZZ_TOTAL_ENV, "").strip()
    if not raw:
        return FUZZ_TOTAL_DEFAULT
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{FUZZ_TOTAL_ENV} must be a positive whole number, got {raw!r}")
    return int(raw)


def fuzz_share(weight: float) -> int:
    """This test's number of examples: its weight (0..1) of the run's total."""
    return max(1, round(fuzz_total() * weight))


def report() -> list[str]:
    with _LOCK:
        names = sorted(set(COUNTS) | set(SECONDS))
        lines = []
        for name in names:
            seconds = SECONDS.get(name)
            timing = f" in {seconds:.1f} s" if seconds else ""
            lines.append(f"{name}: {COUNTS.get(name, 0)}{timing}")
        return lines
