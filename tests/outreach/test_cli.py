"""CLI: optout add/import/list/remove, forget, outreach preview/draft/queue/send --dry-run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from leadgen.cli import app
from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus, OptOut, OptOutKind, OutreachMessage, ProcessingJob
from tests.outreach.factories import add_company

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    offer = tmp_path / "offer.toml"
    shutil.copy(ROOT / "offer.example.toml", offer)
    (tmp_path / "outbox").mkdir()
    env = {
        "DATABASE_URL": db_url,
        "OUTREACH_OFFER_FILE": str(offer),
        "OUTREACH_DRY_RUN_DIR": str(tmp_path / "outbox"),
        "ROUTING_MX_LOOKUP": "false",
        "OUTREACH_SEND_WINDOW": "00:00-23:59",
        "OUTREACH_SEND_WEEKDAYS": "mon,tue,wed,thu,fri,sat,sun",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_optout_add_list_import_remove(cli_env: dict[str, str], tmp_path: Path, engine: Engine) -> None:
    assert invoke("optout", "add", "Ivan@Clinic.ru", "--reason", "asked by phone") == (
        0,
        "email ivan@clinic.ru: added\n",
    )
    assert invoke("optout", "add", "ivan@clinic.ru")[1] == "email ivan@clinic.ru: already listed\n"
    assert invoke("optout", "add", "https://www.Spam-Free.ru/")[1] == "domain spam-free.ru: added\n"
    code, _ = invoke("optout", "add", "nonsense")
    assert code == 1
    csv = tmp_path / "optout.csv"
    csv.write_text("email,reason\nanna@clinic.ru,unsubscribed\nnot valid,\n", encoding="utf-8")
    code, out = invoke("optout", "import", str(csv))
    assert code == 0 and "added 1, already listed 0, invalid 1" in out
    code, out = invoke("optout", "list")
    assert (
        "ivan@clinic.ru" in out and "spam-free.ru" in out and "anna@clinic.ru" in out and "3 entries" in out
    )
    assert invoke("optout", "remove", "spam-free.ru")[1] == "removed 1\n"
    code, _ = invoke("optout", "import", str(tmp_path / "missing.csv"))
    assert code == 1


def test_forget_command(cli_env: dict[str, str], engine: Engine) -> None:
    with write_scope(engine) as s:
        add_company(s, "clinic1.ru", emails=("ivan@clinic1.ru",))
    code, out = invoke("forget", "ivan@clinic1.ru")
    assert code == 0 and "1 contacts deleted" in out
    code, out = invoke("optout", "list")
    assert re.search(r"email_hash\s+sha256:[0-9a-f]{12}", out) and "ivan@" not in out
    with write_scope(engine) as s:
        assert s.scalar(select(OptOut.kind)) == OptOutKind.EMAIL_HASH


def test_preview_draft_queue_and_dry_run_send(
    cli_env: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    with write_scope(engine) as s:
        add_company(s, "clinic1.ru", name="Клиника «Улыбка»", emails=("info@clinic1.ru",))
    code, out = invoke("outreach", "preview", "clinic1.ru")
    assert code == 0, out
    assert "To: info@clinic1.ru" in out and "Клиника «Улыбка»" in out
    assert "composer: fallback  guardrails: ok" in out and "fallback reason: no_api_key" in out
    assert "123456, Москва" in out  # the footer with the physical address
    code, out = invoke("outreach", "draft", "--limit", "5")
    assert code == 0 and '"drafted": 1' in out
    code, out = invoke("outreach", "queue")
    assert code == 0 and '"queued": 1' in out
    code, out = invoke("outreach", "send", "--dry-run")
    assert code == 0 and '"dry_run": true' in out
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1 and b"List-Unsubscribe" in files[0].read_bytes()
    with write_scope(engine) as s:
        runs = s.execute(select(ProcessingJob.stage, ProcessingJob.status, ProcessingJob.stats)).all()
    assert [(stage, str(status)) for stage, status, _ in runs] == [
        ("cli-draft", "completed"),
        ("cli-queue", "completed"),
        ("cli-send", "completed"),
    ]
    assert runs[0][2]["drafted"] == 1 and runs[1][2]["queued"] == 1


def test_preview_unknown_domain_is_one_line(cli_env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "leadgen", "outreach", "preview", "nowhere.ru"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **cli_env},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: no company with domain 'nowhere.ru'"


def test_send_with_starttls_refused_is_one_line_per_route_and_spends_nothing(
    cli_env: dict[str, str], engine: Engine
) -> None:
    from leadgen_sandbox.smtp_sink import SmtpSink
    from tests.outreach.factories import queued_messages

    with write_scope(engine) as s:
        queued_messages(s, 2)
    with SmtpSink(tls="none") as plain:  # no STARTTLS offered, while both routes require it
        routes = {f"SMTP_{r}_{k}": v for r in ("YANDEX", "GMAIL") for k, v in (("HOST", plain.host), ("PORT", str(plain.port)))}  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-m", "leadgen", "outreach", "send"],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **cli_env, **routes},
            timeout=120,
            check=False,
        )
        assert plain.count == 0
    assert proc.returncode == 1, proc.stderr
    where = f"127.0.0.1:{plain.port}"
    assert proc.stderr.splitlines() == [
        f"error: route gmail unavailable: STARTTLS not offered by {where} (check SMTP_GMAIL_SECURITY)",
        f"error: route yandex unavailable: STARTTLS not offered by {where} (check SMTP_YANDEX_SECURITY)",
    ]
    with write_scope(engine) as s:
        rows = s.execute(select(OutreachMessage.status, OutreachMessage.attempts)).all()
    assert [tuple(r) for r in rows] == [(MessageStatus.QUEUED, 0)] * 2
