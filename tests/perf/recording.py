"""One way for every benchmark to record what it measured: a JSON object per figure in LEADGEN_BENCH_OUT.

`record_figure` prints the figure and, when LEADGEN_BENCH_OUT names a file, appends it there as one JSON object
per line (JSON Lines), so one `make bench` run collects every benchmark's figures in one file from which
docs/performance.md is generated (`tests/perf/render.py`). Each object carries: name, figure, unit, target,
comparison ("<", "<=", ">" or ">="), met, the path the figure measures, the command that reproduces it, and
machine facts (CPU count, load average, Python version). `assert_met` then fails the benchmark on a missed target.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda figure, target: figure < target,
    "<=": lambda figure, target: figure <= target,
    ">": lambda figure, target: figure > target,
    ">=": lambda figure, target: figure >= target,
}


def machine_facts() -> dict[str, Any]:
    """The facts a reader needs to judge a figure: CPUs, load while it ran, Python."""
    return {
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def record_figure(
    name: str,
    figure: float,
    *,
    unit: str,
    target: float,
    comparison: str,
    path: str,
    **extra: Any,
) -> dict[str, Any]:
    """Print the figure as JSON and append it to LEADGEN_BENCH_OUT (when set); returns the object.

    `comparison` says how the figure must stand to the target ("<", "<=", ">", ">="); the caller still asserts
    the target itself (`assert_met`), after recording, so a missed figure is on file too.
    """
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {sorted(COMPARISONS)}, not {comparison!r}")
    entry: dict[str, Any] = {
        "name": name,
        "figure": figure,
        "unit": unit,
        "target": target,
        "comparison": comparison,
        "met": COMPARISONS[comparison](figure, target),
        "path": path,
        **extra,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_facts(),
    }
    print(json.dumps(entry, ensure_ascii=False))
    out = os.environ.get("LEADGEN_BENCH_OUT")
    if out:
        with Path(out).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry


def assert_met(entry: dict[str, Any]) -> None:
    """Fail the benchmark when a recorded figure missed its target, saying what was measured."""
    assert entry["met"], (
        f"{entry['name']}: measured {entry['figure']} {entry['unit']}, target {entry['comparison']} "
        f"{entry['target']} (load average {entry['machine']['load_average']})"
    )
