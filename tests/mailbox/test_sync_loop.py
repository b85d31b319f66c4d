"""`leadgen mailbox sync` end to end against a real Dovecot, with the real classifier and effects, on SQLite and
Postgres: what each kind does, a UIDVALIDITY change applying nothing twice, and kill -9 in the middle of a sync."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from leadgen.clock import utc_now
from leadgen.db.engine import read_scope, write_scope
from leadgen.db.models import (
    AddressBounce,
    Company,
    InboundMessage,
    MailboxCursor,
    MessageStatus,
    OptOut,
    OutreachMessage,
)
from leadgen.mailbox.sync import sync_mailbox
from leadgen.settings import Settings
from tests.mailbox import letters
from tests.outreach.factories import add_company
from tests.support.dovecot import Dovecot, free_port

LEADGEN = [sys.executable, "-m", "leadgen"]
SENT = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def sent(session: Session, company: Company, to_email: str, n: int) -> OutreachMessage:
    row = OutreachMessage(
        company_id=company.id,
        campaign="default",
        to_email=to_email,
        status=MessageStatus.SENT,
        subject="CRM для вашей клиники",
        body="Здравствуйте! ...",
        sent_at=SENT + timedelta(minutes=n),
        message_id=f"<leadgen.{n}.5f2e9c@dentaplan.example>",
    )
    session.add(row)
    session.flush()
    return row


def count(engine: Engine, column: object, *where: object) -> int:
    # A read: on SQLite a write_scope would queue for the write lock behind the sync's commits, and the watcher
    # below then saw nothing between 17 and all 300 messages (its count waited out the whole sync).
    with read_scope(engine) as session:
        return int(session.scalar(select(func.count(column)).where(*where)) or 0)  # type: ignore[arg-type]


def loop_settings(db_url: str, dovecot: Dovecot, **extra: object) -> Settings:
    values = {k.lower(): v for k, v in dovecot.env("yandex").items()}
    return Settings(  # type: ignore[arg-type]
        _env_file=None, database_url=db_url, **{**values, "outreach_soft_bounce_limit": 3, **extra}
    )


def test_each_kind_has_its_effect_and_a_uidvalidity_change_applies_nothing_twice(
    engine: Engine, db_url: str, dovecot: Dovecot
) -> None:
    with write_scope(engine) as session:
        clinic = add_company(session, "clinic-mail.example", emails=("ivan@clinic-mail.example",))
        smile = add_company(session, "smile.example", emails=("irina@smile.example",))
        shop = add_company(session, "shop.example", emails=("oleg@shop.example",))
        bounced = sent(session, clinic, "ivan@clinic-mail.example", 1)
        replied = sent(session, smile, "irina@smile.example", 2)
        unsubscribed = sent(session, shop, "oleg@shop.example", 3)
        full = sent(session, shop, "full@mail.example", 4)
        ids = {r.id: r.message_id for r in (bounced, replied, unsubscribed, full)}
    dovecot.deliver(
        letters.postfix_hard_bounce("ivan@clinic-mail.example", ids[bounced.id], n=1),
        letters.exim_soft_bounce("full@mail.example", ids[full.id], n=2),
        letters.reply("irina@smile.example", ids[replied.id], n=3),
        letters.out_of_office("petr@corp.example", ids[replied.id], n=4),
        letters.newsletter(5),
        letters.reply(
            "oleg@shop.example", ids[unsubscribed.id], n=6, text="Пожалуйста, удалите меня из рассылки."
        ),
        letters.exim_soft_bounce("full@mail.example", ids[full.id], n=7),
    )
    settings = loop_settings(db_url, dovecot)
    route = settings.imap_route("yandex")

    first = sync_mailbox(engine, settings, route, now=utc_now)

    assert first.error is None and first.read == 7
    assert first.kinds == {
        "hard_bounce": 1,
        "soft_bounce": 2,
        "reply": 1,
        "auto_reply": 1,
        "other": 1,
        "unsubscribe": 1,
    }
    assert first.matched == 6 and first.duplicates == 0 and first.suppressed == 2
    state = loop_state(engine)
    assert state["opt_outs"] == {("ivan@clinic-mail.example", "bounce"), ("oleg@shop.example", "reply")}
    assert state["bounces"] == {"ivan@clinic-mail.example": (0, 1), "full@mail.example": (2, 0)}
    with write_scope(engine) as session:
        assert session.get(OutreachMessage, bounced.id).status == MessageStatus.BOUNCED  # type: ignore[union-attr]
        assert session.get(OutreachMessage, replied.id).status == MessageStatus.REPLIED  # type: ignore[union-attr]
        assert session.get(Company, smile.id).replied_at is not None  # type: ignore[union-attr]
    assert count(engine, InboundMessage.id) == 7

    dovecot.forget_uids()  # the server renumbers the same seven messages under a new UIDVALIDITY
    rescan = sync_mailbox(engine, settings, route, now=utc_now)

    assert rescan.rescanned and rescan.previous_uidvalidity == first.uidvalidity
    assert rescan.read == 7 and rescan.duplicates == 7 and rescan.suppressed == 0
    assert loop_state(engine) == state, "a rescan applied effects again"
    assert sync_mailbox(engine, settings, route, now=utc_now).read == 0


def loop_state(engine: Engine) -> dict[str, object]:
    with write_scope(engine) as session:
        return {
            "opt_outs": set(session.execute(select(OptOut.value, OptOut.source)).tuples()),
            "bounces": {
                a: (s, h)
                for a, s, h in session.execute(
                    select(AddressBounce.address, AddressBounce.soft_count, AddressBounce.hard_count)
                )
            },
            "statuses": sorted(session.scalars(select(OutreachMessage.status)).all()),
        }


def cli_env(db_url: str, dovecot: Dovecot, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAP_", "DATABASE_URL"))}
    env.update(dovecot.env("yandex"), DATABASE_URL=db_url, DATA_DIR=str(tmp_path / "data"), COLUMNS="120")
    return env


@pytest.mark.slow
def test_kill_9_in_the_middle_loses_nothing_and_applies_nothing_twice(
    engine: Engine, db_url: str, dovecot: Dovecot, tmp_path: Path
) -> None:
    total = 300  # thirds: soft bounces, hard bounces (each to its own address), newsletters
    dovecot.deliver(
        *[
            (letters.exim_soft_bounce, letters.postfix_hard_bounce)[n % 2](
                f"rcpt{n}@mail{n % 7}.example", f"<leadgen.{n}.x@dentaplan.example>", n=n
            )
            if n % 3
            else letters.newsletter(n)
            for n in range(total)
        ]
    )
    soft = sum(1 for n in range(total) if n % 3 and n % 2 == 0)
    hard = sum(1 for n in range(total) if n % 3 and n % 2 == 1)
    env = cli_env(db_url, dovecot, tmp_path)

    # The sync runs ten nice levels below this test, so on a loaded machine the watcher still sees the 20th
    # message before the sync has read all 300 (it once finished first when both waited for the same cores).
    first = subprocess.Popen(
        [*LEADGEN, "mailbox", "sync"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.nice(10),
    )
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and first.poll() is None:
        done = count(engine, InboundMessage.id)
        if done >= 20:
            break
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL, "the sync ended before it could be killed"
    at_kill = count(engine, InboundMessage.id)
    opted_out_at_kill = count(engine, OptOut.id)
    assert 20 <= at_kill < total
    with write_scope(engine) as session:
        cursor = session.scalars(select(MailboxCursor)).one()
        assert cursor.last_uid == at_kill, "the cursor and the recorded messages moved apart"

    second = subprocess.run(
        [*LEADGEN, "mailbox", "sync"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )

    assert second.returncode == 0, second.stderr[-2000:]
    left = total - at_kill
    assert f"yandex (yandex INBOX): {left} of {left} new messages read" in second.stdout
    assert f"; {hard - opted_out_at_kill} addresses suppressed;" in second.stdout
    assert count(engine, InboundMessage.id) == total
    with write_scope(engine) as session:
        keys = session.execute(select(InboundMessage.uidvalidity, InboundMessage.uid)).all()
        assert len(set(keys)) == total and {uid for _, uid in keys} == set(range(1, total + 1))
        assert session.scalar(select(func.sum(AddressBounce.soft_count))) == soft
        assert session.scalar(select(func.sum(AddressBounce.hard_count))) == hard
        assert session.scalar(select(func.max(AddressBounce.soft_count))) == 1
        assert session.scalar(select(func.count(OptOut.id))) == hard
        assert session.scalars(select(MailboxCursor.last_uid)).one() == total
    third = subprocess.run(
        [*LEADGEN, "mailbox", "sync"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert third.returncode == 0 and "0 of 0 new messages read" in third.stdout


def test_cli_unreachable_mailbox_is_one_line(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAP_")}
    env.update(
        DATABASE_URL=db_url,
        IMAP_GMAIL_HOST="127.0.0.1",
        IMAP_GMAIL_PORT=str(port),
        IMAP_GMAIL_SECURITY="plain",
        IMAP_GMAIL_USERNAME="sales@dentaplan.example",
        IMAP_GMAIL_PASSWORD="app-password-1",
        COLUMNS="200",
    )
    result = subprocess.run(
        [*LEADGEN, "mailbox", "sync", "--route", "gmail"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: gmail: cannot reach IMAP server 127.0.0.1:{port} (connect): [Errno 111] Connection refused"
    ]
    assert "Traceback" not in result.stderr and "app-password-1" not in result.stderr + result.stdout

    env.pop("IMAP_GMAIL_PASSWORD")
    missing = subprocess.run(
        [*LEADGEN, "mailbox", "sync"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "error: no IMAP mailbox is configured: set IMAP_<ROUTE>_HOST, _USERNAME and _PASSWORD for a route "
        "(yandex, gmail)"
    )
