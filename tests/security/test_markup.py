"""Data is never read as Rich markup (issue 22): `[/x]` and `[bold]` from a CSV cell, a path, an opt-out reason or
an import line print as they are, and an error about a missing `[sender]` table keeps its brackets."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from leadgen.cli import app
from leadgen.cli.console import error_line, one_line, styled

runner = CliRunner()
HOSTILE = "[/x] [bold]loud[/bold] [link=http://evil.example]x[/link] \\[/y]"


@pytest.fixture
def db_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


def test_opt_out_reason_and_import_lines_print_as_text(db_env: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["optout", "add", "boss@okna.ru", "--reason", HOSTILE])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["optout", "list"])
    assert result.exit_code == 0, result.output
    assert HOSTILE in result.output
    (tmp_path / "[").mkdir()
    listing = tmp_path / "[" / "x]optouts.csv"
    listing.write_text("value,reason\nnot an address [/x],x\nsales@okna.ru,[/bold] moved\n", encoding="utf-8")
    result = runner.invoke(app, ["optout", "import", str(listing)])
    assert result.exit_code == 0, result.output
    assert "not an address [/x]" in result.output
    result = runner.invoke(app, ["optout", "list"])
    assert result.exit_code == 0 and "[/bold] moved" in result.output  # `optout list` keeps working


def test_csv_cell_and_path_in_plan_output(db_env: str, tmp_path: Path) -> None:
    folder = tmp_path / "[" / "x][bold]"  # the path reads ".../[/x][bold]/..."
    folder.mkdir(parents=True)
    niches = folder / "niches.csv"
    niches.write_text("niche;city;batch_tag\nокна;Москва;b1\nклининг;[/x]Готэм[bold];b1\n", encoding="utf-8")
    status = folder / "status.csv"
    result = runner.invoke(app, ["plan", "--csv", str(niches), "--status-out", str(status)])
    assert result.exit_code == 0, result.output
    assert "[/x]Готэм[bold]" in result.output.replace("\n", "")
    result = runner.invoke(app, ["export", "domains", "--out", str(folder / "d.csv")])
    assert result.exit_code == 0, result.output
    assert str(folder / "d.csv") in result.output.replace("\n", "")


def test_error_line_keeps_brackets_and_stays_one_line() -> None:
    console = Console(record=True, width=60, markup=False)
    console.print(error_line("offer.toml: missing table [sender]\n[/x] second line"), soft_wrap=True)
    assert console.export_text().strip() == "error: offer.toml: missing table [sender] [/x] second line"
    assert one_line("a\r\nb\n\nc") == "a b c"


def test_styled_escapes_values_but_keeps_its_own_markup() -> None:
    text = styled("[bold]{}[/] of {}", "[/x]", "[red]")
    assert text.plain == "[/x] of [red]"
    assert any(span.style == "bold" for span in text.spans)
