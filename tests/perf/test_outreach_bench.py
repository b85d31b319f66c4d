"""Benchmark: outbox overhead (claim + record per message) against raw SMTP sends to the same sink.

Run: `make bench` (or `PYTHONPATH=. pytest tests/perf/test_outreach_bench.py -o addopts="" -s`).
"""

from __future__ import annotations

import time
from pathlib import Path

from leadgen.db import make_engine, migrate
from leadgen.db.engine import write_scope
from leadgen.outreach import SmtpMailer, StaticMxResolver, send_queued
from leadgen.outreach.guardrails import check_draft
from leadgen.outreach.message import Unsubscribe, build_message, new_message_id
from leadgen.outreach.template import EmailTemplate
from leadgen.settings import Settings
from leadgen_sandbox.smtp_sink import SmtpSink
from tests.outreach.factories import MONDAY_NOON, make_offer, queued_messages
from tests.perf.recording import assert_met, record_figure

N = 300
OFFER = make_offer()
COMMAND = 'PYTHONPATH=. pytest tests/perf/test_outreach_bench.py -p no:cacheprovider -o addopts="" -s'
MIN_OUTBOX_PER_S = 10.0  # send_queued: at most 100 ms of outbox work per message (measured about 32 ms)
MIN_DRAFTS_PER_S = 200.0  # check_draft: at most 5 ms per draft (measured about 1.3 ms)


def test_outbox_overhead_against_raw_smtp(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bench.db'}")
    migrate.upgrade(engine)
    with write_scope(engine) as s:
        queued_messages(s, N)
    with SmtpSink() as sink:
        env = sink.settings_env("yandex") | sink.settings_env("gmail")
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=str(engine.url),
            outreach_daily_cap=N,
            outreach_spacing_seconds=0,
            outreach_spacing_jitter_seconds=0,
            **env,
        )
        messages = [
            build_message(
                subject="Тема",
                body="Здравствуйте!",
                to_email=f"director@clinic{i}.ru",
                from_address="anna@dentaplan.example",
                offer=OFFER,
                message_id=new_message_id("dentaplan.example"),
                unsubscribe=Unsubscribe(mailto="anna@dentaplan.example"),
                date=MONDAY_NOON,
            )
            for i in range(N)
        ]
        mailer = SmtpMailer(settings.smtp_route("yandex"))
        start = time.perf_counter()
        for message in messages:
            mailer.send(message)
        mailer.close()
        raw = time.perf_counter() - start
        resolver = StaticMxResolver({f"clinic{i}.ru": ["mx.yandex.net"] for i in range(N)})
        start = time.perf_counter()
        report = send_queued(engine, settings, limit=N, now=MONDAY_NOON, resolver=resolver, offer=OFFER)
        outbox = time.perf_counter() - start
    assert report.sent == N and sink.count == 2 * N
    print(
        f"\noutreach bench (SQLite, plain SMTP sink, {N} messages): raw SMTP {N / raw:.0f} msg/s, "
        f"send_queued {N / outbox:.0f} msg/s, ratio send_queued/raw time = {outbox / raw:.2f}"
    )
    entry = record_figure(
        "send_queued throughput",
        round(N / outbox, 1),
        unit="messages/s",
        target=MIN_OUTBOX_PER_S,
        comparison=">=",
        path=f"send_queued of {N} queued rows (claim transaction + SMTP + outcome transaction per message), "
        "SQLite file, plain-SMTP sink on loopback",
        command=COMMAND,
        raw_smtp_per_s=round(N / raw, 1),
        ratio_to_raw_time=round(outbox / raw, 2),
    )
    assert_met(entry)


def test_guardrail_throughput() -> None:
    body = (
        "Здравствуйте!\n\nМеня зовут Анна, я из компании ДентаПлан. Посмотрели сайт вашей клиники и думаем, "
        "что вам пригодится наша CRM: она напоминает пациентам о визитах. Тариф — 4 900 ₽ в месяц, сайт "
        "https://dentaplan.example, телефон +7 495 123-45-67.\n\nС уважением,\nАнна"
    )
    drafts = [EmailTemplate(f"CRM для клиники {i}", body + f" {i}") for i in range(2000)]
    start = time.perf_counter()
    for draft in drafts:
        assert check_draft(draft, OFFER).ok
    elapsed = time.perf_counter() - start
    print(f"\nguardrails: {len(drafts) / elapsed:.0f} drafts/s ({elapsed * 1000 / len(drafts):.2f} ms each)")
    entry = record_figure(
        "check_draft throughput",
        round(len(drafts) / elapsed, 1),
        unit="drafts/s",
        target=MIN_DRAFTS_PER_S,
        comparison=">=",
        path="check_draft guardrails on a 350-character Russian draft with an allowed link, phone and price",
        command=COMMAND,
    )
    assert_met(entry)
