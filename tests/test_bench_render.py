"""The benchmark figures block of docs/performance.md: rendered from record_figure's JSON Lines, prose kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.perf import recording, render


def _record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, figure: float, **kw: object) -> Path:
    out = tmp_path / "figures.jsonl"
    monkeypatch.setenv("LEADGEN_BENCH_OUT", str(out))
    defaults: dict[str, object] = {"unit": "x", "target": 0.9, "comparison": ">=", "path": "the path"}
    recording.record_figure(name, figure, **(defaults | kw))  # type: ignore[arg-type]
    return out


def test_every_figure_gets_a_row_with_path_target_met_machine_and_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(tmp_path, monkeypatch, "pace", 0.95, command="pytest tests/perf/a.py", path="two | workers")
    out = _record(tmp_path, monkeypatch, "start", 0.41, unit="s", target=0.3, comparison="<")
    block = render.render(render.load(out))
    rows = [line for line in block.splitlines() if line.startswith("| pace") or line.startswith("| start")]
    assert len(rows) == 2
    assert "0.95 x | >= 0.9 | **yes**" in rows[0] and "CPUs, load" in rows[0]
    assert "0.41 s | < 0.3 | **NO**" in rows[1]
    assert "- **pace**: two \\| workers. Command: `pytest tests/perf/a.py`." in block
    assert "- **start**: the path." in block


def test_the_latest_record_of_a_name_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _record(tmp_path, monkeypatch, "pace", 0.5)
    out = _record(tmp_path, monkeypatch, "pace", 0.93)
    entries = render.load(out)
    assert [e["figure"] for e in entries] == [0.93] and entries[0]["met"] is True


def test_only_the_marked_block_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _record(tmp_path, monkeypatch, "pace", 0.93)
    doc = tmp_path / "performance.md"
    doc.write_text(
        f"# Perf\n\nprose before\n{render.BEGIN}\nold table\n{render.END}\nprose after\n", encoding="utf-8"
    )
    assert render.main([str(out), "--doc", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Perf\n\nprose before\n<!-- bench:begin -->\n| Figure |")
    assert text.endswith("<!-- bench:end -->\nprose after\n") and "old table" not in text
    render.main([str(out), "--doc", str(doc)])
    assert doc.read_text(encoding="utf-8") == text  # idempotent


def test_a_document_without_markers_is_an_error() -> None:
    with pytest.raises(ValueError, match="bench:begin"):
        render.replace_block("# no markers\n", "table")


def test_record_figure_checks_the_comparison_and_assert_met_fails_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _record(tmp_path, monkeypatch, "ceiling", 11, unit="requests", target=10, comparison="<=")
    entry = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert entry["met"] is False and entry["machine"]["cpu_count"] and entry["recorded_at"]
    with pytest.raises(AssertionError, match="ceiling: measured 11 requests, target <= 10"):
        recording.assert_met(entry)
    with pytest.raises(ValueError):
        recording.record_figure("x", 1, unit="u", target=1, comparison="==", path="p")
