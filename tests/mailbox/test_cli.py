"""`leadgen mailbox classify FILE.eml`: one JSON object on stdout, exit 0; an unreadable file is one error line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from leadgen.cli import app
from tests.mailbox.corpus import MAIL_DIR

runner = CliRunner()


def test_classify_prints_one_json_object() -> None:
    result = runner.invoke(app, ["mailbox", "classify", str(MAIL_DIR / "dsn_postfix_user_unknown.eml")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert list(data) == ["kind", "recipients", "status", "message_id"]
    assert data["kind"] == "hard_bounce"
    assert data["recipients"] == ["info@stroymontazh-nn.ru"]
    assert data["status"] == "5.1.1"
    assert data["message_id"].startswith("<leadgen.101.")


def test_classify_garbage_is_still_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "garbage.eml"
    path.write_bytes(b"\x00\xff\xfe not a message \x81\x82\r\n\r\n\xd0")
    result = runner.invoke(app, ["mailbox", "classify", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "kind": "other",
        "recipients": [],
        "status": None,
        "message_id": None,
    }


def test_classify_reads_stdin() -> None:
    data = (MAIL_DIR / "text_qmail_no_mailbox.eml").read_bytes()
    result = runner.invoke(app, ["mailbox", "classify", "-"], input=data)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["recipients"] == ["prorab@stroykomplekt.example"]


def test_unreadable_file_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    missing = tmp_path / "missing.eml"
    proc = subprocess.run(
        [sys.executable, "-m", "leadgen", "mailbox", "classify", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot read"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_directory_is_unreadable(tmp_path: Path) -> None:
    result = runner.invoke(app, ["mailbox", "classify", str(tmp_path)])
    assert result.exit_code == 1
    assert "error: cannot read" in result.output


def test_nothing_on_stderr_when_a_bounce_detector_trips(tmp_path: Path) -> None:
    """flufl.bounce detectors raise on raw 8-bit headers; the classifier skips them quietly."""
    path = tmp_path / "bounce.eml"
    path.write_bytes(
        "From: Почтовая служба <postmaster@mx.example.org>\nTo: anna@leadpilot.example\n"
        "Subject: Недоставленное сообщение\n\nСообщение не доставлено.\n\n<gone@example.org>: 550 5.1.1 "
        "User unknown\n".encode()
    )
    proc = subprocess.run(
        [sys.executable, "-m", "leadgen", "mailbox", "classify", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert json.loads(proc.stdout) == {
        "kind": "hard_bounce",
        "recipients": ["gone@example.org"],
        "status": "5.1.1",
        "message_id": None,
    }
