"""CLI skeleton: help on every command, version, and one-line errors instead of tracebacks."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from leadgen import __version__
from leadgen.cli import app

runner = CliRunner()


def _all_command_paths() -> list[list[str]]:
    root = get_command(app)
    paths: list[list[str]] = [[]]

    def walk(cmd: click.Command, prefix: list[str]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                paths.append([*prefix, name])
                walk(sub, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(p) or "leadgen")
def test_help_on_every_command(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_db_upgrade_and_current(empty_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0 and "base" in result.output
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["db", "current"])
    assert "up to date" in result.output


def _run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadgen", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=60,
        check=False,
    )


def test_unreachable_database_is_one_line(tmp_path) -> None:
    proc = _run_cli("db", "current", env={"DATABASE_URL": "postgresql://leadgen:hunter2@127.0.0.1:9/none"})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot connect")
    assert "hunter2" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_setting_is_one_line() -> None:
    proc = _run_cli("db", "current", env={"APP_TIMEZONE": "Nowhere/Land"})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "APP_TIMEZONE" in proc.stderr and "Traceback" not in proc.stderr
