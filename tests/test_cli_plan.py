"""`leadgen plan` end to end on a migrated database: dry run table, CSV planning, re-plan, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from leadgen.cli import app
from leadgen.db import SerpQuery

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "niches.csv"
runner = CliRunner()


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


def _count(engine) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(SerpQuery)) or 0)


def test_dry_run_prints_queries_and_writes_nothing(env: str, engine) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["plan", "--csv", str(EXAMPLE), "--batch-tag", "2026-11-a", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Planned queries (dry run)" in result.output
    assert "стоматология" in result.output and "Москва (213)" in result.output
    assert "lang:ru" in result.output and "-site:avito.ru" in result.output
    assert "would add 30" in result.output
    assert _count(engine) == 0


def test_plan_csv_then_replan(env: str, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    status = tmp_path / "status.csv"
    args = ["plan", "--csv", str(EXAMPLE), "--batch-tag", "2026-11-a", "--status-out", str(status)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "added 30, 0 duplicates" in result.output
    assert "2 of other batches skipped" in result.output
    assert _count(engine) == 30
    assert status.read_text("utf-8").splitlines()[1].startswith("2,2026-11-a,planned,6,6,0,")
    result = runner.invoke(app, args)
    assert "added 0, 30 duplicates" in result.output
    assert _count(engine) == 30


def test_user_errors_are_one_line(env: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "--sheet", "--csv", str(EXAMPLE)])
    assert result.exit_code == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("city\nОмск\n", "utf-8")
    result = runner.invoke(app, ["plan", "--csv", str(bad)])
    assert result.exit_code != 0
    assert "niche" in str(result.exception) or "niche" in result.output
