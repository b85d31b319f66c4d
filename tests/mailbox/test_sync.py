"""sync_mailbox against a real Dovecot, on SQLite and Postgres: incremental reads, UIDVALIDITY changes, a
message that fails, unreachable and refusing servers, TLS and STARTTLS, and that reading changes no flag."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from imapclient import IMAPClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from leadgen.db.engine import write_scope
from leadgen.db.models import MailboxCursor, ProcessingJob
from leadgen.errors import ConfigurationError
from leadgen.mailbox.imap import MAX_MESSAGE_BYTES
from leadgen.mailbox.kinds import MailKind
from leadgen.mailbox.sync import Handled, SyncStep, sync_all, sync_mailbox
from leadgen.settings import Settings
from leadgen.stage_report import ItemError
from tests.mailbox import letters
from tests.support.dovecot import Dovecot, free_port

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def imap_settings(db_url: str, dovecot: Dovecot, *, security: str = "plain", **extra: object) -> Settings:
    values = {k.lower(): v for k, v in dovecot.env("yandex", security=security).items()}
    return Settings(_env_file=None, database_url=db_url, **{**values, **extra})  # type: ignore[arg-type]


def record(session: Session, raw: bytes, uidvalidity: int, uid: int) -> Handled:
    """A handler that leaves one row per call in the caller's transaction (so a rollback leaves none)."""
    session.add(
        ProcessingJob(stage="mailbox-test", batch_tag=f"{uidvalidity}:{uid}", stats={"size": len(raw)})
    )
    return Handled(kind=MailKind.OTHER, matched=b"In-Reply-To" in raw)


def handled(engine: Engine) -> list[str]:
    with write_scope(engine) as session:
        rows = session.scalars(select(ProcessingJob.batch_tag).where(ProcessingJob.stage == "mailbox-test"))
        return list(rows)


def cursor(engine: Engine) -> tuple[int, int] | None:
    with write_scope(engine) as session:
        row = session.execute(select(MailboxCursor.uidvalidity, MailboxCursor.last_uid)).first()
        return (row[0], row[1]) if row else None


def mixed(count: int, start: int = 0) -> list[bytes]:
    makers = [
        lambda n: letters.postfix_hard_bounce(
            f"nobody{n}@clinic-mail.example", f"<leadgen.{n}.x@d.example>", n=n
        ),
        lambda n: letters.reply(f"irina{n}@clinic.example", f"<leadgen.{n}.x@d.example>", n=n),
        lambda n: letters.newsletter(n),
        lambda n: letters.exim_soft_bounce(f"full{n}@mail.example", f"<leadgen.{n}.x@d.example>", n=n),
        lambda n: letters.out_of_office(f"petr{n}@corp.example", f"<leadgen.{n}.x@d.example>", n=n),
    ]
    return [makers[n % len(makers)](n) for n in range(start, start + count)]


def test_first_sync_reads_everything_and_a_rerun_reads_nothing(
    engine: Engine, db_url: str, dovecot: Dovecot
) -> None:
    settings = imap_settings(db_url, dovecot, imap_batch_size=3)
    dovecot.deliver(*mixed(7))
    route = settings.imap_route("yandex")
    steps: list[SyncStep] = []

    first = sync_mailbox(engine, settings, route, now=clock, handler=record, progress=steps.append)

    assert first.error is None and first.new == first.read == 7
    assert first.kinds == {"other": 7} and first.matched == 3 and first.last_uid == 7  # 2 replies, 1 OOO
    assert first.mailbox == "yandex" and first.rescanned is False
    uv = first.uidvalidity
    assert uv and handled(engine) == [f"{uv}:{uid}" for uid in range(1, 8)]
    assert cursor(engine) == (uv, 7)
    assert [(s.done, s.total) for s in steps] == [(n, 7) for n in range(8)]

    second = sync_mailbox(engine, settings, route, now=clock, handler=record)
    assert (second.new, second.read, second.last_uid, second.error) == (0, 0, 7, None)
    assert len(handled(engine)) == 7


def test_messages_arriving_after_a_sync_are_read_once(engine: Engine, db_url: str, dovecot: Dovecot) -> None:
    settings = imap_settings(db_url, dovecot)
    route = settings.imap_route("yandex")
    dovecot.deliver(*mixed(3))
    sync_mailbox(engine, settings, route, now=clock, handler=record)
    dovecot.deliver(*mixed(2, start=3))

    later = sync_mailbox(engine, settings, route, now=clock, handler=record)
    again = sync_mailbox(engine, settings, route, now=clock, handler=record)

    assert (later.new, later.read, later.last_uid) == (2, 2, 5)
    assert again.read == 0
    uv = later.uidvalidity
    assert handled(engine) == [f"{uv}:{uid}" for uid in range(1, 6)]


def test_a_uidvalidity_change_reads_the_folder_again_under_the_new_one(
    engine: Engine, db_url: str, dovecot: Dovecot
) -> None:
    settings = imap_settings(db_url, dovecot)
    route = settings.imap_route("yandex")
    dovecot.deliver(*mixed(3))
    before = sync_mailbox(engine, settings, route, now=clock, handler=record)
    dovecot.forget_uids()  # as after a restore from backup: same messages, new UIDs, new UIDVALIDITY

    after = sync_mailbox(engine, settings, route, now=clock, handler=record)

    assert after.uidvalidity != before.uidvalidity
    assert after.rescanned and after.previous_uidvalidity == before.uidvalidity
    assert after.read == 3
    assert cursor(engine) == (after.uidvalidity, 3)
    assert sorted(handled(engine)) == sorted(
        [f"{before.uidvalidity}:{u}" for u in (1, 2, 3)] + [f"{after.uidvalidity}:{u}" for u in (1, 2, 3)]
    )
    assert sync_mailbox(engine, settings, route, now=clock, handler=record).read == 0


def test_a_message_that_cannot_be_handled_stops_the_folder_before_it(
    engine: Engine, db_url: str, dovecot: Dovecot
) -> None:
    settings = imap_settings(db_url, dovecot)
    route = settings.imap_route("yandex")
    dovecot.deliver(*mixed(5))

    def fails_on_third(session: Session, raw: bytes, uidvalidity: int, uid: int) -> Handled:
        outcome = record(session, raw, uidvalidity, uid)  # written, then rolled back with the failure
        if uid == 3:
            raise ValueError("unexpected MIME structure\nsecond line")
        return outcome

    stopped = sync_mailbox(engine, settings, route, now=clock, handler=fails_on_third)

    assert stopped.read == 2 and stopped.last_uid == 2
    assert stopped.error is not None and "UID 3" in stopped.error and "\n" not in stopped.error
    assert stopped.errors == (
        ItemError("message", stopped.error, id=3, key="yandex INBOX", outcome="stopped before it"),
    )
    assert len(handled(engine)) == 2 and cursor(engine) == (stopped.uidvalidity, 2)

    resumed = sync_mailbox(engine, settings, route, now=clock, handler=record)
    assert (resumed.read, resumed.last_uid) == (3, 5)
    assert len(handled(engine)) == 5


def test_a_huge_message_is_read_up_to_its_first_two_mebibytes(
    engine: Engine, db_url: str, dovecot: Dovecot
) -> None:
    settings = imap_settings(db_url, dovecot)
    bounce = letters.postfix_hard_bounce("ivan@clinic-mail.example", "<leadgen.1.x@d.example>")
    attachment = b"\r\n".join(
        [b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAx"] * 60000
    )
    huge = bounce.replace(b"--\r\n", b"\r\n" + attachment + b"\r\n--\r\n")
    assert len(huge) > 2 * MAX_MESSAGE_BYTES
    dovecot.deliver(huge, letters.newsletter(1))
    sizes: dict[int, bytes] = {}

    def keep(session: Session, raw: bytes, uidvalidity: int, uid: int) -> Handled:
        sizes[uid] = raw
        return record(session, raw, uidvalidity, uid)

    report = sync_mailbox(engine, settings, settings.imap_route("yandex"), now=clock, handler=keep)

    assert report.read == 2
    assert len(sizes[1]) == MAX_MESSAGE_BYTES and sizes[1] == huge[:MAX_MESSAGE_BYTES]
    assert sizes[2].startswith(b"From: Vendor News") and sizes[2].endswith(b"\r\n") and len(sizes[2]) < 2000


def test_reading_is_read_only_no_flag_changes(engine: Engine, db_url: str, dovecot: Dovecot) -> None:
    settings = imap_settings(db_url, dovecot)
    dovecot.deliver(*mixed(3))
    sync_mailbox(engine, settings, settings.imap_route("yandex"), now=clock, handler=record)

    with IMAPClient(dovecot.host, dovecot.port, ssl=False) as client:
        client.login(dovecot.username, dovecot.password)
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags(client.search(["ALL"]))
    assert len(flags) == 3
    assert all(b"\\Seen" not in f for f in flags.values()), flags


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_and_starttls_with_the_servers_certificate(
    engine: Engine, db_url: str, dovecot: Dovecot, security: str
) -> None:
    settings = imap_settings(db_url, dovecot, security=security)
    dovecot.deliver(*mixed(2))

    report = sync_mailbox(engine, settings, settings.imap_route("yandex"), now=clock, handler=record)

    assert report.error is None and report.read == 2


def test_tls_with_an_untrusted_certificate_is_refused_in_one_line(
    engine: Engine, db_url: str, dovecot: Dovecot
) -> None:
    settings = imap_settings(db_url, dovecot, security="ssl", imap_ca_file=None)
    dovecot.deliver(*mixed(1))

    report = sync_mailbox(engine, settings, settings.imap_route("yandex"), now=clock, handler=record)

    assert report.error is not None and report.error.startswith("TLS with IMAP server 127.0.0.1:")
    assert "certificate verify failed" in report.error and "\n" not in report.error
    assert report.read == 0 and handled(engine) == [] and cursor(engine) is None


def test_an_unreachable_server_ends_the_route_with_one_line(engine: Engine, db_url: str) -> None:
    port = free_port()  # nothing listens there
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=db_url,
        imap_gmail_host="127.0.0.1",
        imap_gmail_port=port,
        imap_gmail_security="plain",
        imap_gmail_username="sales@dentaplan.example",
        imap_gmail_password="app-password",
        imap_timeout_seconds=5,
    )

    [report] = sync_all(engine, settings, now=clock, handler_factory=lambda *_: record)

    assert report.route == "gmail" and report.read == 0
    assert (
        report.error == f"cannot reach IMAP server 127.0.0.1:{port} (connect): [Errno 111] Connection refused"
    )
    assert cursor(engine) is None


def test_a_wrong_password_is_refused_in_one_line_without_the_password(
    engine: Engine, db_url: str, dovecot: Dovecot
) -> None:
    settings = imap_settings(db_url, dovecot, imap_yandex_password="not-the-password")

    report = sync_mailbox(engine, settings, settings.imap_route("yandex"), now=clock, handler=record)

    assert report.error is not None
    assert report.error.startswith(f"IMAP server 127.0.0.1:{dovecot.port} refused the login of leads")
    assert "not-the-password" not in report.error and "\n" not in report.error


def test_a_missing_folder_is_refused_in_one_line(engine: Engine, db_url: str, dovecot: Dovecot) -> None:
    settings = imap_settings(db_url, dovecot, imap_yandex_folder="Bounces")

    report = sync_mailbox(engine, settings, settings.imap_route("yandex"), now=clock, handler=record)

    assert report.error is not None and report.error.startswith(
        f"IMAP server 127.0.0.1:{dovecot.port} refused to select folder 'Bounces': select failed: "
        "Mailbox doesn't exist: Bounces"
    )
    assert "\n" not in report.error
    assert report.error_kind == "refused" and cursor(engine) is None


def test_a_server_that_hangs_times_out(engine: Engine, db_url: str) -> None:
    with socket.socket() as silent:  # accepts the connection, never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=db_url,
            imap_yandex_host="127.0.0.1",
            imap_yandex_port=silent.getsockname()[1],
            imap_yandex_security="plain",
            imap_yandex_username="u",
            imap_yandex_password="p",
            imap_timeout_seconds=0.5,
        )
        report = sync_mailbox(engine, settings, settings.imap_route("yandex"), now=clock, handler=record)
    assert report.error == f"IMAP server 127.0.0.1:{settings.imap_yandex_port} timed out (connect)"
    assert report.error_kind == "unavailable"


def test_sync_all_skips_routes_without_a_mailbox_and_refuses_when_none_is_set(
    engine: Engine, db_url: str, dovecot: Dovecot
) -> None:
    bare = Settings(_env_file=None, database_url=db_url)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="no IMAP mailbox is configured"):
        sync_all(engine, bare, now=clock, handler_factory=lambda *_: record)
    with pytest.raises(
        ConfigurationError, match="IMAP_GMAIL_HOST, IMAP_GMAIL_USERNAME and IMAP_GMAIL_PASSWORD"
    ):
        sync_all(engine, bare, now=clock, routes=["gmail"], handler_factory=lambda *_: record)

    settings = imap_settings(db_url, dovecot)
    dovecot.deliver(*mixed(2))
    reports = sync_all(engine, settings, now=clock, handler_factory=lambda *_: record)
    assert [(r.route, r.read) for r in reports] == [("yandex", 2)]
