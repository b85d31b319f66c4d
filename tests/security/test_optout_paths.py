"""Opt-out and forget are honoured on every path: whatever form the opt-out takes and whenever it arrives.

Seven companies, each opted out a different way (exact email, other case, domain, parent domain, IDN domain in
Unicode, forgotten address re-found by a later crawl, the company flag), plus one control company. The opt-out is
applied before drafting, before queueing, before sending, or before a dry run; only the control may reach the
SMTP sink or the .eml outbox. tests/outreach/test_outbox.py already checks email/domain/forget between queueing
and sending; this table covers the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from leadgen.db.engine import write_scope
from leadgen.db.models import Company, Contact, ContactKind, ContactSource, OptOutKind
from leadgen.outreach import StaticMxResolver, draft_messages, queue_messages, send_queued
from leadgen.outreach.composer import FallbackComposer
from leadgen.outreach.forget import forget
from leadgen.outreach.optout import add_opt_out
from leadgen.settings import Settings
from leadgen_sandbox.smtp_sink import SmtpSink
from tests.outreach.factories import MONDAY_NOON, add_company, make_offer

OFFER = make_offer()
IDN = "xn--e1afmkfd.xn--p1ai"  # пример.рф
COMPANIES = {
    "control": ("clinic0.ru", "info@clinic0.ru"),
    "email": ("clinic1.ru", "info@clinic1.ru"),
    "email_case": ("clinic2.ru", "director@clinic2.ru"),
    "domain": ("clinic3.ru", "info@clinic3.ru"),
    "parent_domain": ("clinic4.ru", "info@mail.clinic4.ru"),
    "idn_domain": (IDN, f"info@{IDN}"),
    "forgotten": ("clinic6.ru", "info@clinic6.ru"),
    "company_flag": ("clinic7.ru", "info@clinic7.ru"),
}
MX = StaticMxResolver({domain.split("@")[-1]: ["mx.yandex.net"] for _, domain in COMPANIES.values()})


def opt_out_everyone(session: Session) -> None:
    add_opt_out(session, "info@clinic1.ru", kind=OptOutKind.EMAIL)
    add_opt_out(session, "DIRECTOR@Clinic2.RU", kind=OptOutKind.EMAIL)
    add_opt_out(session, "clinic3.ru", kind=OptOutKind.DOMAIN)
    add_opt_out(session, "clinic4.ru", kind=OptOutKind.DOMAIN)
    add_opt_out(session, "xn--e1afmkfd.xn--p1ai", kind=OptOutKind.DOMAIN)
    forget(session, "INFO@clinic6.ru", now=MONDAY_NOON)
    # A later crawl finds the forgotten address again.
    company_id = session.scalar(select(Company.id).where(Company.canonical_domain == "clinic6.ru"))
    session.add(
        Contact(company_id=company_id, kind=ContactKind.EMAIL, value="info@clinic6.ru",
                source=ContactSource.MAILTO, quality_score=1.0, is_primary=True)
    )  # fmt: skip
    session.execute(update(Company).where(Company.canonical_domain == "clinic7.ru").values(opt_out=True))


def sink_settings(settings: Settings, sink: SmtpSink, tmp_path: Path) -> Settings:
    env = settings.model_dump() | sink.settings_env("yandex") | sink.settings_env("gmail")
    env |= {"outreach_spacing_seconds": 0, "outreach_spacing_jitter_seconds": 0}
    (tmp_path / "outbox").mkdir(exist_ok=True)
    env |= {"outreach_dry_run_dir": tmp_path / "outbox"}
    return Settings.model_validate(env)


Stage = Callable[[Engine, Settings], None]


def draft(engine: Engine, st: Settings) -> None:
    draft_messages(engine, st, limit=50, now=MONDAY_NOON, composer=FallbackComposer(), offer=OFFER)


def queue(engine: Engine, st: Settings) -> None:
    queue_messages(engine, st, limit=50, now=MONDAY_NOON, resolver=MX, offer=OFFER)


def send(engine: Engine, st: Settings) -> None:
    send_queued(engine, st, limit=50, now=MONDAY_NOON, resolver=MX, offer=OFFER)


def dry_run(engine: Engine, st: Settings) -> None:
    send_queued(engine, st, limit=50, now=MONDAY_NOON, resolver=MX, offer=OFFER, dry_run=True)


@pytest.mark.parametrize(
    ("when", "stages"),
    [
        ("before draft", [draft, queue, send]),
        ("before queue", [draft, queue, send]),
        ("before send", [draft, queue, send]),
        ("before dry run", [draft, queue, dry_run]),
    ],
)
def test_no_opted_out_address_is_ever_written_to(engine: Engine, settings: Settings, tmp_path: Path, when: str, stages: list[Stage]) -> None:  # fmt: skip
    with write_scope(engine) as s:
        for domain, email in COMPANIES.values():
            add_company(s, domain, emails=(email,))
    at = {"before draft": 0, "before queue": 1, "before send": 2, "before dry run": 2}[when]
    with SmtpSink() as sink:
        st = sink_settings(settings, sink, tmp_path)
        for index, stage in enumerate(stages):
            if index == at:
                with write_scope(engine) as s:
                    opt_out_everyone(s)
            stage(engine, st)
        delivered = {m.rcpt_tos[0].lower() for m in sink.messages}
    files = [p.read_text(errors="replace").lower() for p in (tmp_path / "outbox").rglob("*.eml")]
    if stages[-1] is dry_run:
        assert delivered == set() and len(files) == 1, [f[:300] for f in files]
        reached = {email for _, email in COMPANIES.values() if any(email in f for f in files)}
    else:
        assert files == []
        reached = delivered
    assert reached == {"info@clinic0.ru"}, reached
