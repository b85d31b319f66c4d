"""Secrets (IAM token, SA private key, API key, SMTP password, OpenAI key) never reach logs, output, errors,
reports, the database or written files during a sandbox run, including its failure paths.

Every stage that holds a secret runs against the loopback sandbox with DEBUG logging captured, then everything the
run left behind is grepped for each secret (and for a long fragment of the private key).
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, select
from sqlalchemy.exc import SAWarning
from typer.testing import CliRunner

from leadgen.cli.app import app
from leadgen.clock import ManualClock
from leadgen.db.engine import write_scope
from leadgen.outreach import StaticMxResolver, draft_messages, queue_messages, send_queued
from leadgen.outreach.composer import build_composer
from leadgen.pipeline_stats import funnel
from leadgen.settings import Settings
from leadgen.yandex import YandexClient
from leadgen.yandex.collect import collect_operations
from leadgen.yandex.submit import submit_due_queries
from leadgen_sandbox.fake_llm import FakeLlm
from leadgen_sandbox.smtp_sink import SmtpSink
from leadgen_sandbox.yandex_emulator import EmulatorConfig, Faults, YandexEmulator
from tests.outreach.factories import MONDAY_NOON, add_company, make_offer
from tests.reliability.test_search_faults import StrictIngest, add_queries

pytestmark = pytest.mark.anyio

NIGHT = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
SMTP_PASSWORD = "smtp-Pa55-w0rd-do-not-leak"
OPENAI_KEY = "sk-live-DoNotLeak-0123456789abcdef0123"
MX = StaticMxResolver({f"clinic{i}.ru": ["mx.yandex.net"] for i in range(20)})


def secret_fragments(values: list[str]) -> list[str]:
    """Each secret, plus every 40-character line of a PEM body (a key printed in part is still leaked)."""
    out = []
    for value in values:
        out.append(value)
        for line in value.splitlines():
            line = line.strip()
            if len(line) >= 40 and not line.startswith("-----"):
                out.append(line[:40])
    return out


def dump_database(engine: Engine) -> str:
    meta = MetaData()
    with warnings.catch_warnings():  # expression indexes cannot be reflected; the rows can
        warnings.simplefilter("ignore", SAWarning)
        meta.reflect(engine)
    parts = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                parts.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(parts)


def written_files(root: Path) -> str:
    return "\n".join(
        p.read_text(errors="replace")
        for p in root.rglob("*")
        if p.is_file() and p.suffix in {".eml", ".json", ".csv", ".log"}
    )


async def run_search(engine: Engine, db_url: str, auth: str, found: list[str]) -> list[Any]:
    clock = ManualClock(NIGHT)
    add_queries(engine, 6)
    faults = Faults(rate_401=0.2, rate_429=0.1, rate_500=0.1)
    reports: list[Any] = []
    with YandexEmulator(EmulatorConfig(clock=clock, time_to_done=300, faults=faults)) as emu:
        overrides = emu.settings_overrides(auth=auth)
        settings = Settings(_env_file=None, database_url=db_url, yandex_max_retries=1, **overrides)  # type: ignore[call-arg]
        for field in ("yandex_cloud_sa_key_json", "yandex_cloud_iam_token", "yandex_api_key"):
            if overrides.get(field):
                found.append(str(overrides[field]))
        reports.append(repr(settings))
        async with YandexClient.from_settings(settings, clock=clock, sleep=clock.async_sleep) as client:
            for _ in range(6):
                reports.append(await submit_due_queries(engine, client, settings, now=clock, limit=10))
                clock.advance(minutes=10)
                reports.append(
                    await collect_operations(
                        engine, client, settings, now=clock, limit=10, on_done=StrictIngest()
                    )
                )
        found.extend(emu._tokens)  # every IAM token the emulator issued to the client
    return reports


def run_outreach(engine: Engine, settings: Settings, tmp_path: Path) -> list[Any]:
    reports: list[Any] = []
    with write_scope(engine) as s:
        for i in range(6):
            add_company(s, f"clinic{i}.ru", emails=(f"info@clinic{i}.ru",))
    offer = make_offer()
    (tmp_path / "outbox").mkdir()
    with SmtpSink(tls="starttls", auth=("robot", SMTP_PASSWORD)) as sink, FakeLlm() as llm:
        env = settings.model_dump() | sink.settings_env("yandex") | sink.settings_env("gmail")
        env |= {
            "openai_api_key": OPENAI_KEY,
            "openai_base_url": llm.base_url,
            "outreach_spacing_seconds": 0,
            "outreach_spacing_jitter_seconds": 0,
            "outreach_dry_run_dir": tmp_path / "outbox",
        }
        st = Settings.model_validate(env)
        reports.append(repr(st))
        composer = build_composer(st)
        reports.append(draft_messages(engine, st, limit=3, now=MONDAY_NOON, composer=composer, offer=offer))
        llm.mode = "error"  # the LLM answers 500: the fallback path, and its error text
        reports.append(draft_messages(engine, st, limit=10, now=MONDAY_NOON, composer=composer, offer=offer))
        reports.append(queue_messages(engine, st, limit=10, now=MONDAY_NOON, resolver=MX, offer=offer))
        reports.append(
            send_queued(engine, st, limit=2, now=MONDAY_NOON, dry_run=True, resolver=MX, offer=offer)
        )
        wrong = st.model_copy(update={"smtp_yandex_port": sink.port, "smtp_gmail_port": sink.port})
        bad_auth = Settings.model_validate(wrong.model_dump() | {"smtp_yandex_password": SMTP_PASSWORD + "x"})
        reports.append(send_queued(engine, bad_auth, limit=2, now=MONDAY_NOON, resolver=MX, offer=offer))
        reports.append(
            send_queued(engine, st, limit=10, now=MONDAY_NOON + timedelta(hours=1), resolver=MX, offer=offer)
        )
        assert sink.count >= 1
    return reports


@pytest.mark.parametrize("auth", ["sa_key", "iam_token"])
async def test_no_secret_in_logs_output_reports_database_or_files(
    engine: Engine, db_url: str, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str], auth: str, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    secrets = [SMTP_PASSWORD, OPENAI_KEY]
    reports = await run_search(engine, db_url, auth, secrets)
    reports += run_outreach(engine, settings, tmp_path)
    with write_scope(engine) as s:
        reports.append(funnel(s))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("SMTP_YANDEX_PASSWORD", SMTP_PASSWORD)
    cli = CliRunner().invoke(app, ["--verbose", "report", "--json"])
    assert cli.exit_code == 0, cli.output
    assert len(secrets) >= 4  # the Yandex credential and at least one issued token were collected
    out, err = capfd.readouterr()
    texts = {
        "logs": "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records),
        "stdout/stderr": out + err + cli.output,
        "reports and errors": "\n".join(
            json.dumps(asdict(r), default=str, ensure_ascii=False) if not isinstance(r, str) else r
            for r in reports
        ),
        "database": dump_database(engine),
        "files": written_files(tmp_path),
    }
    assert "info@clinic" in texts["database"] and texts["logs"]  # the run did write things
    for fragment in secret_fragments(secrets):
        for where, text in texts.items():
            assert fragment not in text, f"secret {fragment[:6]}… leaked into {where}"
        assert not re.search(re.escape(fragment[:24]), texts["logs"])
