"""Settling `unknown` rows end to end (issue 23): real `send_queued` against the SMTP sink, whose accepted mail is
appended to a sent folder of a real Dovecot (as Gmail and Yandex do), then `settle_unknown` over IMAP. On SQLite
and Postgres: a copy found settles the row as sent; a reliable folder without the copy after the delay requeues it
(and it is then sent once); an unreliable one leaves it unknown."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from imapclient import IMAPClient
from pydantic import SecretStr
from sqlalchemy import Engine, select

from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.outreach import StaticMxResolver, send_queued
from leadgen.outreach.settle import Outcome, settle_unknown
from leadgen.settings import ImapRoute, Settings
from leadgen_sandbox.sent_copy import SentFolderCopier
from leadgen_sandbox.smtp_sink import Fault, SmtpSink, delivered_message_ids
from tests.outreach.factories import MONDAY_NOON, make_offer, queued_messages
from tests.support.dovecot import Dovecot, free_port

ROOT = Path(__file__).resolve().parents[2]
OFFER = make_offer()
YANDEX_MX = StaticMxResolver({f"clinic{i}.ru": ["mx.yandex.net"] for i in range(20)})
GMAIL_MX = StaticMxResolver({f"clinic{i}.ru": ["aspmx.l.google.com"] for i in range(20)})
RU_SENT = (
    "Отправленные"  # flagged \Sent in the fixture: found through SPECIAL-USE, modified UTF-7 on the wire
)
GMAIL_SENT = "[Gmail]/Sent Mail"


def route_settings(settings: Settings, sink: SmtpSink, dovecot: Dovecot, **kw: object) -> Settings:
    env = settings.model_dump() | sink.settings_env("yandex") | sink.settings_env("gmail")
    for route in ("yandex", "gmail"):
        env |= {k.lower(): v for k, v in dovecot.env(route).items()}
    env |= {
        "outreach_spacing_seconds": 0,
        "outreach_spacing_jitter_seconds": 0,
        "smtp_data_timeout_seconds": 0.5,
        "outreach_settle_after_minutes": 30,
        "imap_yandex_sent_copies": True,
        "imap_gmail_sent_folder": GMAIL_SENT,
    } | kw
    return Settings.model_validate(env)


def copier(dovecot: Dovecot, route: str, folder: str, *, port: int | None = None) -> SentFolderCopier:
    """The sink's IMAP APPEND into the fixture's mailbox (the account behind both routes)."""
    imap = ImapRoute(
        name=route,
        host=dovecot.host,
        port=port or dovecot.port,
        security="plain",
        username=dovecot.username,
        password=SecretStr(dovecot.password),
        folder="INBOX",
        timeout=10,
        ca_file=None,
    )
    return SentFolderCopier(imap, folder)


def rows(engine: Engine) -> list[OutreachMessage]:
    with write_scope(engine) as s:
        return list(s.scalars(select(OutreachMessage).order_by(OutreachMessage.id)))


def folder_ids(dovecot: Dovecot, folder: str) -> Counter[str]:
    """Message-IDs in a folder of the fixture's mailbox, read over IMAP (EXAMINE)."""
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as client:
        client.login(dovecot.username, dovecot.password)
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        headers = client.fetch(uids, [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
    return Counter(
        data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().partition(":")[2].strip()
        for data in headers.values()
    )


@pytest.mark.parametrize(
    ("route", "folder", "resolver"), [("yandex", RU_SENT, YANDEX_MX), ("gmail", GMAIL_SENT, GMAIL_MX)]
)
def test_unknown_row_with_a_sent_copy_is_settled_sent(
    engine: Engine,
    settings: Settings,
    dovecot: Dovecot,
    tmp_path: Path,
    route: str,
    folder: str,
    resolver: StaticMxResolver,
) -> None:
    with SmtpSink(maildir=tmp_path / "delivered", sent_copies=copier(dovecot, route, folder)) as sink:
        st = route_settings(settings, sink, dovecot)
        with write_scope(engine) as s:
            queued_messages(s, 2)
        sink.fail_next(Fault.ACCEPT_DISCONNECT)  # kept (and copied), then the connection drops: in doubt
        report = send_queued(
            engine, st, limit=5, now=MONDAY_NOON, offer=OFFER, resolver=resolver, settle=False
        )
        raw = {m.message_id: m.data for m in sink.messages}
    assert (report.unknown, report.sent) == (1, 1)
    doubt = next(r for r in rows(engine) if r.status == MessageStatus.UNKNOWN)
    assert folder_ids(dovecot, folder)[doubt.message_id] == 1

    done = settle_unknown(engine, st, now=lambda: MONDAY_NOON + timedelta(minutes=1))

    assert [(s.id, s.outcome, s.changed) for s in done] == [(doubt.id, Outcome.SENT, True)]
    after = next(r for r in rows(engine) if r.id == doubt.id)
    assert after.status == MessageStatus.SENT and after.sent_at == doubt.data_started_at
    (record,) = after.meta["settlements"]
    assert (record["route"], record["folder"], record["outcome"]) == (route, folder, "sent")
    assert isinstance(record["uid"], int) and record["uidvalidity"] > 0
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as client:  # the copy is the exact bytes
        client.login(dovecot.username, dovecot.password)
        client.select_folder(folder, readonly=True)
        stored = client.fetch([record["uid"]], [b"BODY.PEEK[]"])[record["uid"]][b"BODY[]"]
    assert stored == raw[doubt.message_id]


def test_absent_from_a_reliable_folder_is_requeued_after_the_delay_then_sent_once(
    engine: Engine, settings: Settings, dovecot: Dovecot, tmp_path: Path
) -> None:
    maildir = tmp_path / "delivered"
    with SmtpSink(maildir=maildir, sent_copies=copier(dovecot, "yandex", RU_SENT)) as sink:
        st = route_settings(settings, sink, dovecot, imap_yandex_sent_copy_reliable=True)
        with write_scope(engine) as s:
            queued_messages(s, 1)
        sink.fail_next(Fault.DISCONNECT)  # the server drops the connection during DATA and keeps nothing
        first = send_queued(
            engine, st, limit=1, now=MONDAY_NOON, offer=OFFER, resolver=YANDEX_MX, settle=False
        )
        assert first.unknown == 1 and sink.count == 0
        (doubt,) = rows(engine)

        early = settle_unknown(engine, st, now=lambda: MONDAY_NOON + timedelta(minutes=29))
        assert [s.outcome for s in early] == [Outcome.WAITING]
        assert rows(engine)[0].status == MessageStatus.UNKNOWN

        # the next send run settles it (31 minutes after its DATA command) and sends it again, once
        later = MONDAY_NOON + timedelta(minutes=31)
        second = send_queued(engine, st, limit=5, now=later, offer=OFFER, resolver=YANDEX_MX)
        assert (second.settled_requeued, second.sent) == (1, 1)
    (after,) = rows(engine)
    assert after.status == MessageStatus.SENT and after.message_id == doubt.message_id
    assert after.attempts == 1  # the lost attempt was given back
    (record,) = after.meta["settlements"]
    assert record["outcome"] == "requeued" and record["uid"] is None and record["folder"] == RU_SENT
    assert record["absent_minutes"] == 31
    assert Counter(delivered_message_ids(maildir)) == {doubt.message_id: 1}
    assert folder_ids(dovecot, RU_SENT)[doubt.message_id] == 1


def test_absent_from_an_unreliable_folder_stays_unknown_and_the_command_says_so(
    engine: Engine, db_url: str, settings: Settings, dovecot: Dovecot, tmp_path: Path
) -> None:
    with SmtpSink(sent_copies=copier(dovecot, "yandex", RU_SENT)) as sink:
        st = route_settings(settings, sink, dovecot)
        with write_scope(engine) as s:
            queued_messages(s, 1)
        sink.fail_next(Fault.DISCONNECT)
        send_queued(engine, st, limit=1, now=MONDAY_NOON, offer=OFFER, resolver=YANDEX_MX, settle=False)
    env = {k.upper(): str(v) for k, v in dovecot.env("yandex").items()}
    env |= {"DATABASE_URL": db_url, "IMAP_YANDEX_SENT_COPIES": "true", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "leadgen", "outreach", "settle", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    (line,) = [json.loads(text) for text in done.stdout.splitlines()]
    assert (line["outcome"], line["route"], line["changed"]) == ("unknown", "yandex", False)
    assert f"not in '{RU_SENT}' of the yandex mailbox" in line["evidence"]
    assert "IMAP_YANDEX_SENT_COPY_RELIABLE" in line["evidence"]
    assert rows(engine)[0].status == MessageStatus.UNKNOWN


def test_the_sink_refuses_a_message_whose_copy_cannot_be_kept(
    engine: Engine, settings: Settings, dovecot: Dovecot, tmp_path: Path
) -> None:
    gone = copier(dovecot, "yandex", RU_SENT, port=free_port())  # nothing listens there
    with SmtpSink(maildir=tmp_path / "delivered", sent_copies=gone) as sink:
        st = route_settings(settings, sink, dovecot, smtp_data_timeout_seconds=30)
        with write_scope(engine) as s:
            queued_messages(s, 1)
        report = send_queued(engine, st, limit=1, now=MONDAY_NOON, offer=OFFER, resolver=YANDEX_MX)
        assert sink.count == 0 and report.retried == 1  # 451: retried later, never in doubt
    assert delivered_message_ids(tmp_path / "delivered") == []
