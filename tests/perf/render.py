"""Write the generated figures block of docs/performance.md from the benchmarks' JSON Lines (`record_figure`).

`python -m tests.perf.render [FIGURES] [--doc DOC]` (`make bench` runs it after the benchmarks): for every figure
name the latest record in FIGURES (default docs/bench/figures.jsonl) becomes a table row (measured, target, met,
machine) and an entry saying which code path it measures and the command that reproduces it. Only the text
between BEGIN and END in DOC is replaced; the prose around it stays as written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "docs" / "bench" / "figures.jsonl"
DOC = ROOT / "docs" / "performance.md"
BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"


def load(path: Path) -> list[dict[str, Any]]:
    """The latest record of each figure name, in the order the names first appear."""
    latest: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            latest[entry["name"]] = entry
    return list(latest.values())


def _number(value: float) -> str:
    return f"{value:,.4g}" if isinstance(value, float) else f"{value:,}"


def _machine(entry: dict[str, Any]) -> str:
    facts = entry.get("machine", {})
    load = facts.get("load_average") or []
    loads = "/".join(f"{x:g}" for x in load)
    return f"{facts.get('cpu_count', '?')} CPUs, load {loads or '?'}, Python {facts.get('python', '?')}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(entries: list[dict[str, Any]]) -> str:
    """The generated block: one table of every figure, then each figure's path and command."""
    if not entries:
        return "No figures recorded yet: run `make bench`."
    lines = [
        "| Figure | Measured | Target | Met | Recorded | Machine |",
        "|---|---:|---:|---|---|---|",
    ]
    for e in entries:
        met = "**yes**" if e["met"] else "**NO**"
        lines.append(
            f"| {_cell(e['name'])} | {_number(e['figure'])} {_cell(e['unit'])} | {e['comparison']} "
            f"{_number(e['target'])} | {met} | {e.get('recorded_at', '?')} | {_machine(e)} |"
        )
    lines += ["", "What each figure measures, and the command that reproduces it:", ""]
    for e in entries:
        command = e.get("command")
        how = f" Command: `{command}`." if command else ""
        lines.append(f"- **{e['name']}**: {_cell(e.get('path', '?'))}.{how}")
    return "\n".join(lines)


def replace_block(doc: str, block: str) -> str:
    """`doc` with the text between the markers replaced by `block` (markers kept); ValueError without them."""
    start, end = doc.find(BEGIN), doc.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no {BEGIN} ... {END} block")
    return f"{doc[: start + len(BEGIN)]}\n{block}\n{doc[end:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figures", nargs="?", type=Path, default=FIGURES)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    entries = load(args.figures)
    args.doc.write_text(
        replace_block(args.doc.read_text(encoding="utf-8"), render(entries)), encoding="utf-8"
    )
    missed = [e["name"] for e in entries if not e["met"]]
    print(
        f"{args.doc}: {len(entries)} figures, {len(missed)} missed{': ' + ', '.join(missed) if missed else ''}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
