"""The mailbox_sync flow under the Prefect test harness against a real Dovecot: it reads, publishes its summary,
reads nothing on a rerun, and fails (after publishing) when a mailbox is unreachable."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from flows.mailbox_sync import mailbox_sync_flow
from flows.params import MailboxSyncParams
from leadgen.db.engine import write_scope
from leadgen.db.models import InboundMessage
from leadgen.errors import MailboxError
from tasks.mailbox import sync_mailbox_task
from tests.mailbox import letters
from tests.orchestration.test_flows import journal, latest_artifact
from tests.support.dovecot import Dovecot, dovecot, dovecot_session, free_port

__all__ = ["dovecot", "dovecot_session"]


@pytest.mark.slow
def test_mailbox_sync_flow_reads_publishes_and_reads_nothing_twice(
    prefect_harness: None, engine: Engine, db_url: str, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    for name, value in dovecot.env("yandex").items():
        monkeypatch.setenv(name, value)
    dovecot.deliver(
        letters.postfix_hard_bounce("ivan@clinic-mail.example", "<leadgen.1.x@dentaplan.example>", n=1),
        letters.newsletter(2),
    )

    first = mailbox_sync_flow(MailboxSyncParams())

    assert first["read"] == 2 and first["failed_routes"] == 0
    assert first["routes"][0]["kinds"] == {"hard_bounce": 1, "other": 1}
    assert first["routes"][0]["suppressed"] == 1
    assert "yandex: 2 messages read (1 hard_bounce, 1 other); 1 addresses suppressed" in latest_artifact(
        "mailbox-sync-summary"
    )
    second = mailbox_sync_flow(MailboxSyncParams(route="yandex"))
    assert second["read"] == 0
    with write_scope(engine) as session:
        assert session.scalar(select(func.count(InboundMessage.id))) == 2
    summary = latest_artifact("mailbox-sync-summary")
    assert "yandex: 0 messages read" in summary

    monkeypatch.setenv("IMAP_GMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("IMAP_GMAIL_PORT", str(free_port()))
    monkeypatch.setenv("IMAP_GMAIL_SECURITY", "plain")
    monkeypatch.setenv("IMAP_GMAIL_USERNAME", "sales@dentaplan.example")
    monkeypatch.setenv("IMAP_GMAIL_PASSWORD", "app-password")
    # An outage is retried (RETRIES times; here without the 10-40 s delays), then the run fails after publishing.
    monkeypatch.setattr(
        "flows.mailbox_sync.sync_mailbox_task", sync_mailbox_task.with_options(retry_delay_seconds=0)
    )
    with pytest.raises(MailboxError, match=r"gmail: cannot reach IMAP server 127\.0\.0\.1"):
        mailbox_sync_flow(MailboxSyncParams())
    assert "cannot reach IMAP server" in latest_artifact("mailbox-sync-summary")
    runs = journal(engine)
    assert [(stage, status) for stage, _, status, *_ in runs] == [
        ("mailbox-sync", "completed"),
        ("mailbox-sync", "completed"),
        ("mailbox-sync", "failed"),
    ]
    assert runs[0][4]["read"] == 2 and runs[1][4]["read"] == 0
    error = runs[2][5]
    assert error.startswith("MailboxError: gmail: cannot reach IMAP server 127.0.0.1") and "\n" not in error
