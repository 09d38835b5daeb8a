"""Figures out: a table on the console, and bench/RESULTS.md."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.common import Figure, figure_row

HEADER = (
    "| figure | unit | n | median | p95 | p99 | baseline (median) | ratio | goal |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def print_figures(figures: Iterable[Figure]) -> None:
    print(HEADER)
    notes: list[str] = []
    for fig in figures:
        print(figure_row(fig))
        notes.extend(f"  {fig.name}: {note}" for note in fig.notes)
    for note in notes:
        print(note)


def write_results(
    path: Path,
    figures: Sequence[Figure],
    machine_before: Mapping[str, Any],
    machine_after: Mapping[str, Any],
    durations: Mapping[str, float],
    skipped: Mapping[str, str],
    descriptions: Mapping[str, str],
) -> None:
    """Write RESULTS.md: the machine, then per benchmark its command and its figures."""
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`.venv/bin/python -m bench`) on "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Medians, p95 and p99 are nearest-rank "
        "over the samples (n); the ratio is ours / the baseline measured in the same run "
        "(for a throughput, the baseline's over ours), so above 1 always means costs more.",
        "",
        "## Machine",
        "",
        f"- nproc: {machine_before['nproc']}; CPU: {machine_before['cpu']}",
        f"- memory: {machine_before['memory_total_gib']} GiB "
        f"({machine_before['memory_available_gib']} GiB available at the start)",
        f"- Python {machine_before['python']}",
        f"- load average at the start: {machine_before['load_average']}; at the end: "
        f"{machine_after['load_average']}",
    ]
    if machine_before.get("free_cores") is not None:
        lines.append(
            f"- free cores (a CPU-bound loop run on every CPU at once against alone): "
            f"{machine_before['free_cores']} at the start, {machine_after.get('free_cores')} at "
            "the end; below nproc, other work on the machine was taking CPU"
        )
    if machine_before.get("cpu_pressure"):
        lines.append(
            f"- CPU pressure (/proc/pressure/cpu) at the start: {machine_before['cpu_pressure']}; "
            f"at the end: {machine_after.get('cpu_pressure')}. Anything else running on the "
            "machine shows here and slows wall-clock figures; CPU-time figures are immune."
        )
    lines.append("")
    by_bench: dict[str, list[Figure]] = {}
    for fig in figures:
        by_bench.setdefault(fig.bench, []).append(fig)
    for bench, figs in by_bench.items():
        lines += [f"## {bench}", ""]
        if descriptions.get(bench):
            lines += [descriptions[bench], ""]
        commands = list(dict.fromkeys(fig.command for fig in figs))
        lines += ["```", *commands, "```", ""]
        if bench in durations:
            lines += [f"Ran in {durations[bench]:.0f} s.", ""]
        lines += [HEADER, *(figure_row(fig) for fig in figs), ""]
        notes = [f"- {fig.name}: {note}" for fig in figs for note in fig.notes]
        if notes:
            lines += [*notes, ""]
    if skipped:
        lines += ["## Not run", ""]
        lines += [f"- {name}: {reason}" for name, reason in skipped.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
