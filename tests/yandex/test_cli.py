"""`leadgen yandex search` against the emulator (real clock, time-to-done 0): ids, results, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from leadgen.cli import app
from leadgen_sandbox.yandex_emulator import EmulatorConfig, Faults, YandexEmulator

runner = CliRunner()
ALWAYS = "00:00-23:59"


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[YandexEmulator]:
    with YandexEmulator(EmulatorConfig(time_to_done=0)) as emulator:
        for name, value in emulator.settings_overrides().items():
            monkeypatch.setenv(name.upper(), str(value))
        monkeypatch.setenv("NIGHT_WINDOW", ALWAYS)
        monkeypatch.setenv("NIGHT_WINDOW_ALLOW_DAYTIME", "true")
        yield emulator


def closed_window() -> str:
    """A two-hour window that starts two hours from now (Moscow time), so now is outside it."""
    start = datetime.now(ZoneInfo("Europe/Moscow")) + timedelta(hours=2)
    end = start + timedelta(hours=1)
    return f"{start:%H}:00-{end:%H}:59"


def test_search_prints_the_operation_id(emu: YandexEmulator) -> None:
    result = runner.invoke(app, ["yandex", "search", "окна пвх", "--region", "213"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == emu.operation_ids()[0]
    [create] = emu.recorded("create")
    assert create.body["region"] == "213" and create.body["query"]["queryText"] == "окна пвх"  # type: ignore[index]


def test_search_wait_json(emu: YandexEmulator) -> None:
    args = [
        "yandex",
        "search",
        "натяжные потолки",
        "-r",
        "2",
        "--page",
        "1",
        "--wait",
        "--json",
        "--poll-interval",
        "0",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["operation_id"] == emu.operation_ids()[0] and data["done"] is True and data["page"] == 1
    assert data["error"] is None and len(data["results"]) == 50
    assert data["results"][0]["position"] == 51  # page 1 with 50 groups starts at 51
    assert all(r["url"].startswith("http") for r in data["results"])
    assert "<hlword>" not in result.stdout


def test_search_wait_text(emu: YandexEmulator) -> None:
    result = runner.invoke(app, ["yandex", "search", "стоматология", "--wait", "--poll-interval", "0"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("operation spp") and lines[0].endswith("50 results")
    assert lines[1].strip().startswith("1. ") and lines[2].strip().startswith("http")


def test_search_no_results(emu: YandexEmulator) -> None:
    result = runner.invoke(app, ["yandex", "search", "zzznothing", "--wait", "--poll-interval", "0"])
    assert result.exit_code == 0
    assert "0 results" in result.stdout and "error 15" in result.stdout


def test_outside_the_night_window_fails_in_one_line(
    emu: YandexEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIGHT_WINDOW", closed_window())
    monkeypatch.setenv("NIGHT_WINDOW_ALLOW_DAYTIME", "true")
    result = runner.invoke(app, ["yandex", "search", "окна"])
    assert result.exit_code == 1
    assert (
        result.stderr.count("\n") == 1
        and "NIGHT_WINDOW" in result.stderr
        and "next window opens" in result.stderr
    )
    assert emu.recorded("create") == []
    forced = runner.invoke(app, ["yandex", "search", "окна", "--ignore-night-window"])
    assert forced.exit_code == 0 and "night window check DISABLED" in forced.stderr
    assert len(emu.recorded("create")) == 1


def test_missing_credentials_names_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIGHT_WINDOW", ALWAYS)
    monkeypatch.setenv("NIGHT_WINDOW_ALLOW_DAYTIME", "true")
    result = runner.invoke(app, ["yandex", "search", "окна"])
    assert result.exit_code == 2
    assert "YANDEX_CLOUD_SA_KEY_FILE" in result.stderr and "YANDEX_API_KEY" in result.stderr


def test_api_error_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with YandexEmulator(EmulatorConfig(time_to_done=0, faults=Faults(rate_500=1.0))) as emulator:
        for name, value in emulator.settings_overrides(auth="api_key").items():
            monkeypatch.setenv(name.upper(), str(value))
        monkeypatch.setenv("NIGHT_WINDOW", ALWAYS)
        monkeypatch.setenv("NIGHT_WINDOW_ALLOW_DAYTIME", "true")
        result = runner.invoke(app, ["yandex", "search", "окна"])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "HTTP 500" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_console_script_against_the_emulator(emu: YandexEmulator) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "NIGHT_WINDOW": ALWAYS,
        "NIGHT_WINDOW_ALLOW_DAYTIME": "true",
        "PYTHONPATH": ".",
    }
    env.update({k.upper(): str(v) for k, v in emu.settings_overrides(auth="api_key").items()})
    proc = subprocess.run(
        [sys.executable, "-m", "leadgen", "yandex", "search", "окна пвх", "--region", "213", "--wait", "--json",
         "--poll-interval", "0"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["results"]) == 50
