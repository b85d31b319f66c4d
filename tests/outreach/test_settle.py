"""Settling `unknown` rows from sent folders (issue 23): the pure rule, then the database side with a fake
searcher on SQLite and Postgres (evidence recorded, idempotent, conditional on the row still being in doubt)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update

from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.errors import MailboxUnavailable
from leadgen.mailbox.sent import SentSearch, pick_folder
from leadgen.outbox_counts import outbox_counts
from leadgen.outreach.settle import Outcome, decide, settle_unknown, settle_wait, tally
from leadgen.settings import Settings
from tests.outreach.factories import MONDAY_NOON, queued_messages

CHECKPOINT = MONDAY_NOON
WAIT = timedelta(minutes=30)
FOUND = SentSearch("gmail", "[Gmail]/Sent Mail", 7, 42)
ABSENT = SentSearch("gmail", "[Gmail]/Sent Mail", 7, None)


# --- the pure rule --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("search", "reliable", "minutes", "outcome"),
    [
        (FOUND, False, 0, Outcome.SENT),  # a copy is evidence whatever the folder's reliability
        (FOUND, True, 0, Outcome.SENT),
        (ABSENT, False, 600, Outcome.UNKNOWN),  # no copy in an unreliable folder proves nothing
        (ABSENT, True, 29.9, Outcome.WAITING),  # the copy may still be on its way
        (ABSENT, True, 30, Outcome.REQUEUED),
    ],
)
def test_decide(search: SentSearch, reliable: bool, minutes: float, outcome: Outcome) -> None:
    now = CHECKPOINT + timedelta(minutes=minutes)
    assert decide(search, reliable=reliable, in_doubt_since=CHECKPOINT, now=now, wait=WAIT) is outcome


def test_the_wait_is_never_shorter_than_the_end_of_data_timeout() -> None:
    short = Settings(_env_file=None, outreach_settle_after_minutes=1, smtp_data_timeout_seconds=600)
    assert settle_wait(short) == timedelta(minutes=10)
    assert settle_wait(Settings(_env_file=None)) == timedelta(minutes=30)


def test_pick_folder_setting_then_special_use_then_usual_names() -> None:
    copies = Settings(_env_file=None, imap_gmail_username="u", imap_gmail_password="p").sent_copies("gmail")
    assert copies is not None
    listing = [((b"\\HasNoChildren",), b"/", "INBOX"), ((b"\\HasNoChildren",), b"/", "[Gmail]/Sent Mail")]
    assert pick_folder(listing, copies) == "[Gmail]/Sent Mail"
    flagged = [*listing, ((b"\\Sent",), b"/", "Отправленные")]
    assert pick_folder(flagged, copies) == "Отправленные"
    assert pick_folder(listing[:1], copies) is None
    named = Settings(
        _env_file=None, imap_gmail_username="u", imap_gmail_password="p", imap_gmail_sent_folder="Out"
    ).sent_copies("gmail")
    assert named is not None and pick_folder(flagged, named) == "Out"


def test_yandex_keeps_no_copies_unless_told_and_reliable_needs_copies() -> None:
    creds = {"imap_yandex_username": "u", "imap_yandex_password": "p"}
    assert Settings(_env_file=None, **creds).sent_copies("yandex") is None  # type: ignore[arg-type]
    on = Settings(_env_file=None, imap_yandex_sent_copies=True, **creds).sent_copies("yandex")  # type: ignore[arg-type]
    assert on is not None and on.usual == ("Sent", "Отправленные") and not on.reliable
    with pytest.raises(ValueError, match="IMAP_YANDEX_SENT_COPY_RELIABLE=true needs IMAP_YANDEX_SENT_COPIES"):
        Settings(_env_file=None, imap_yandex_sent_copy_reliable=True)
    assert Settings(_env_file=None).sent_copies("gmail") is None  # no credentials: nothing to search


# --- the database side ----------------------------------------------------------------------------------


class FakeSearcher:
    """Copies present per Message-ID; `before_answer` runs inside `find` (a concurrent process at work)."""

    def __init__(self, present: set[str], *, error: bool = False) -> None:
        self.present = present
        self.error = error
        self.asked: list[str] = []
        self.before_answer = lambda _mid: None

    def find(self, route: str, message_id: str, /) -> SentSearch:
        self.asked.append(message_id)
        if self.error:
            raise MailboxUnavailable("IMAP server imap.gmail.com:993 timed out (search)")
        self.before_answer(message_id)
        uid = 100 + self.asked.index(message_id) if message_id in self.present else None
        return SentSearch(route, "[Gmail]/Sent Mail", 7, uid)


def make_settings(settings: Settings, **kw: object) -> Settings:
    env = settings.model_dump() | {"imap_gmail_username": "anna", "imap_gmail_password": "pw"} | kw
    return Settings.model_validate(env)


def unknown_rows(engine: Engine, count: int, *, route: str = "gmail", start: int = 0) -> dict[int, str]:
    with write_scope(engine) as s:
        ids = queued_messages(s, count, start=start)
        for row_id in ids:
            s.execute(
                update(OutreachMessage)
                .where(OutreachMessage.id == row_id)
                .values(
                    status=MessageStatus.UNKNOWN,
                    message_id=f"<{row_id:032x}@dentaplan.example>",
                    route=route,
                    attempts=1,
                    sending_started_at=CHECKPOINT - timedelta(seconds=2),
                    data_started_at=CHECKPOINT,
                )
            )
    return {row_id: f"<{row_id:032x}@dentaplan.example>" for row_id in ids}


def rows(engine: Engine) -> dict[int, OutreachMessage]:
    with write_scope(engine) as s:
        return {r.id: r for r in s.scalars(select(OutreachMessage))}


def test_found_is_sent_absent_is_requeued_only_when_reliable_and_late(
    engine: Engine, settings: Settings
) -> None:
    mids = unknown_rows(engine, 3)
    found, late, _other = mids
    searcher = FakeSearcher({mids[found]})
    st = make_settings(settings, imap_gmail_sent_copy_reliable=True)
    early = settle_unknown(engine, st, now=lambda: CHECKPOINT + timedelta(minutes=5), searcher=searcher)
    assert [s.outcome for s in early] == [Outcome.SENT, Outcome.WAITING, Outcome.WAITING]
    assert tally(early) == {"sent": 1, "requeued": 0, "waiting": 2, "unknown": 0}
    sent = rows(engine)[found]
    assert sent.status == MessageStatus.SENT and sent.sent_at == CHECKPOINT and sent.last_error is None
    assert sent.meta["settlements"] == [
        {
            "outcome": "sent",
            "route": "gmail",
            "folder": "[Gmail]/Sent Mail",
            "uidvalidity": 7,
            "uid": 100,
            "absent_minutes": None,
            "at": (CHECKPOINT + timedelta(minutes=5)).isoformat(),
            "evidence": "found in '[Gmail]/Sent Mail' of the gmail mailbox, UID 100 (UIDVALIDITY 7)",
        }
    ]
    later = settle_unknown(engine, st, now=lambda: CHECKPOINT + timedelta(minutes=31), searcher=searcher)
    assert [(s.id, s.outcome, s.changed) for s in later] == [
        (late, Outcome.REQUEUED, True),
        (_other, Outcome.REQUEUED, True),
    ]
    requeued = rows(engine)[late]
    assert requeued.status == MessageStatus.QUEUED and requeued.attempts == 0
    assert requeued.data_started_at is None and requeued.sending_started_at is None
    assert requeued.message_id == mids[late]  # resent with the same Message-ID
    record = requeued.meta["settlements"][0]
    assert record["outcome"] == "requeued" and record["uid"] is None and record["absent_minutes"] == 31
    assert requeued.last_error == "requeued: " + record["evidence"]
    assert "absent from '[Gmail]/Sent Mail' of the gmail mailbox 31.0 minutes after" in record["evidence"]
    with write_scope(engine) as s:  # the report's "settled" count sees both (leadgen.outbox_counts)
        assert outbox_counts(s).settled == 3
    # idempotent: nothing is in doubt any more, the folder is not asked again
    asked = len(searcher.asked)
    assert settle_unknown(engine, st, now=lambda: CHECKPOINT + timedelta(hours=2), searcher=searcher) == []
    assert len(searcher.asked) == asked


def test_unreliable_folder_keeps_rows_unknown_and_says_how_to_resolve(
    engine: Engine, settings: Settings
) -> None:
    unknown_rows(engine, 1)
    done = settle_unknown(
        engine,
        make_settings(settings),
        now=lambda: CHECKPOINT + timedelta(days=1),
        searcher=FakeSearcher(set()),
    )
    assert [s.outcome for s in done] == [Outcome.UNKNOWN]
    assert (
        "IMAP_GMAIL_SENT_COPY_RELIABLE" in done[0].evidence and "leadgen outreach resolve" in done[0].evidence
    )
    assert {r.status for r in rows(engine).values()} == {MessageStatus.UNKNOWN}


def test_no_sent_folder_or_an_unreadable_one_leaves_rows_unknown(engine: Engine, settings: Settings) -> None:
    unknown_rows(engine, 1, route="yandex")  # yandex keeps no copies by default
    unknown_rows(engine, 1, start=1)
    st = make_settings(settings, imap_gmail_sent_copy_reliable=True)
    done = settle_unknown(
        engine, st, now=lambda: CHECKPOINT + timedelta(days=1), searcher=FakeSearcher(set(), error=True)
    )
    assert [s.outcome for s in done] == [Outcome.UNKNOWN, Outcome.UNKNOWN]
    assert done[0].evidence.startswith("no sent folder to search for route yandex (set IMAP_YANDEX_HOST")
    assert done[1].evidence == "sent folder not read: IMAP server imap.gmail.com:993 timed out (search)"
    assert {r.status for r in rows(engine).values()} == {MessageStatus.UNKNOWN}


def test_a_row_settled_meanwhile_is_left_alone(engine: Engine, settings: Settings) -> None:
    mids = unknown_rows(engine, 2)
    first, second = mids
    searcher = FakeSearcher(set())
    st = make_settings(settings, imap_gmail_sent_copy_reliable=True)
    racing = datetime(2026, 11, 23, 9, 20, tzinfo=UTC)

    def meanwhile(message_id: str) -> None:
        """The first row's sender finishes (sent); the second is requeued, resent and in doubt again."""
        with write_scope(engine) as s:
            if message_id == mids[first]:
                s.execute(
                    update(OutreachMessage)
                    .where(OutreachMessage.id == first)
                    .values(status=MessageStatus.SENT, sent_at=racing)
                )
            else:
                s.execute(
                    update(OutreachMessage)
                    .where(OutreachMessage.id == second)
                    .values(data_started_at=racing, attempts=2)
                )

    searcher.before_answer = meanwhile
    done = settle_unknown(engine, st, now=lambda: CHECKPOINT + timedelta(hours=1), searcher=searcher)
    assert [(s.outcome, s.changed) for s in done] == [(Outcome.REQUEUED, False), (Outcome.REQUEUED, False)]
    assert tally(done)["requeued"] == 0
    after = rows(engine)
    assert after[first].status == MessageStatus.SENT and "settlements" not in after[first].meta
    assert after[second].status == MessageStatus.UNKNOWN and after[second].data_started_at == racing


def test_the_command_prints_one_line_per_unknown_row_and_exits_0(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from leadgen.cli import app

    monkeypatch.setenv("DATABASE_URL", db_url)
    runner = CliRunner()
    empty = runner.invoke(app, ["outreach", "settle"])
    assert (empty.exit_code, empty.output) == (0, "no unknown messages\n")
    mids = unknown_rows(engine, 2)  # gmail rows, but no IMAP account configured: nothing to search
    done = runner.invoke(app, ["outreach", "settle"])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        f"unknown: message {row_id} {mid} (gmail): no sent folder to search for route gmail (set "
        "IMAP_GMAIL_HOST, _USERNAME, _PASSWORD and IMAP_GMAIL_SENT_COPIES=true)"
        for row_id, mid in mids.items()
    ]
