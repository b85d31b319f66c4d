"""CLI: `leadgen unsubscribe url` prints the link a message carries; `serve` runs the service as a process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from leadgen.cli import app
from leadgen.db.models import OptOut
from leadgen.unsubscribe import UnsubscribeRequest, UnsubscribeSigner
from tests.unsubscribe.conftest import SECRET

runner = CliRunner()
BASE = "https://unsub.dentaplan.example"
STARTUP_TIMEOUT_SECONDS = 30.0


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNSUBSCRIBE_BASE_URL", BASE)
    monkeypatch.setenv("UNSUBSCRIBE_SECRET", SECRET)


@pytest.mark.usefixtures("configured")
def test_url_prints_the_link_a_message_carries() -> None:
    result = runner.invoke(
        app, ["unsubscribe", "url", "Anna@Clinic.RU", "--message-id", "<leadgen.5.ab@x.ru>"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{BASE}/u/")
    token = lines[0].rsplit("/", 1)[1]
    assert UnsubscribeSigner(SECRET).verify(token) == UnsubscribeRequest(
        "anna@clinic.ru", "leadgen.5.ab@x.ru"
    )
    plain = runner.invoke(app, ["unsubscribe", "url", "anna@clinic.ru"])
    assert UnsubscribeSigner(SECRET).verify(plain.stdout.strip().rsplit("/", 1)[1]) == UnsubscribeRequest(
        "anna@clinic.ru"
    )


@pytest.mark.parametrize(
    ("env", "args", "code", "message"),
    [
        ({"UNSUBSCRIBE_SECRET": SECRET}, ["anna@clinic.ru"], 2, "UNSUBSCRIBE_BASE_URL is not set"),
        ({"UNSUBSCRIBE_BASE_URL": BASE}, ["anna@clinic.ru"], 2, "UNSUBSCRIBE_SECRET is not set"),
        ({"UNSUBSCRIBE_BASE_URL": BASE, "UNSUBSCRIBE_SECRET": "short"}, ["anna@clinic.ru"], 2, "too short"),
        (
            {"UNSUBSCRIBE_BASE_URL": BASE, "UNSUBSCRIBE_SECRET": SECRET},
            ["clinic.ru"],
            1,
            "not an email address",
        ),
    ],
)
def test_url_errors_are_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], args: list[str], code: int, message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = runner.invoke(app, ["unsubscribe", "url", *args])
    assert result.exit_code == code
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error:") and message in result.stderr
    assert SECRET not in result.stderr


def test_serve_refuses_to_start_without_a_secret(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = runner.invoke(app, ["unsubscribe", "serve", "--port", "9"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: UNSUBSCRIBE_SECRET is not set")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_the_service_and_logs_no_tokens(db_url: str, engine: Engine, tmp_path: Path) -> None:
    """`leadgen unsubscribe serve` as a process: healthz, a one-click POST to the URL `unsubscribe url` printed."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "UNSUBSCRIBE_BASE_URL": f"http://127.0.0.1:{port}",
        "UNSUBSCRIBE_SECRET": SECRET,
        "LOG_LEVEL": "INFO",
    }
    url = subprocess.run(
        [
            sys.executable,
            "-m",
            "leadgen",
            "unsubscribe",
            "url",
            "reception@zubnoy-mir.ru",
            "--message-id",
            "<m1@x>",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "leadgen",
                "unsubscribe",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:  # readiness poll of a real process
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert httpx.get(url).status_code == 200
        assert httpx.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
        assert httpx.post(url[:-2], data={"List-Unsubscribe": "One-Click"}).status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=15)
    with Session(engine) as session:
        assert session.scalars(select(OptOut.value)).all() == ["reception@zubnoy-mir.ru"]
    output = log.read_text()
    token = url.rsplit("/", 1)[1]
    assert "one-click unsubscribe recorded (token " + token[:8] in output
    assert token not in output and token[:20] not in output
    assert "reception@zubnoy-mir.ru" not in output
    assert SECRET not in output
