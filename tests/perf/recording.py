"""One way for every benchmark to record what it measured: a JSON object per figure in LEADGEN_BENCH_OUT.

`record_figure` prints the figure and, when LEADGEN_BENCH_OUT names a file, appends it there as one JSON object
per line (JSON Lines), so one `make bench` run collects every benchmark's figures in one file from which
docs/performance.md is generated. Each object carries: name, figure, unit, target, comparison ("<" or ">"), the
path the figure measures, and machine facts (CPU count, load average, Python version).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


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

    `comparison` is "<" when the figure must stay under the target and ">" when it must reach above it; the
    caller still asserts the target itself (so the failure message can say what was measured).
    """
    if comparison not in ("<", ">"):
        raise ValueError(f"comparison must be '<' or '>', not {comparison!r}")
    entry: dict[str, Any] = {
        "name": name,
        "figure": figure,
        "unit": unit,
        "target": target,
        "comparison": comparison,
        "met": figure < target if comparison == "<" else figure > target,
        "path": path,
        **extra,
        "machine": machine_facts(),
    }
    print(json.dumps(entry, ensure_ascii=False))
    out = os.environ.get("LEADGEN_BENCH_OUT")
    if out:
        with Path(out).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry
