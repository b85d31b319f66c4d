"""Send-path fault matrix (issue 23): servers that keep a message and never answer, slow servers, 421/452/550 after
DATA, a route that refuses STARTTLS, and a storm of SIGKILLs of real `leadgen outreach send` processes.

Every case asserts what a recipient would notice: no Message-ID delivered twice (counted in the sink's Maildir,
across processes), no row `sent` that the server did not get, deliveries within the daily cap, and a route outage
fails no message. Runs on SQLite and, with LEADGEN_TEST_DATABASE_URL, on Postgres.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from imapclient import IMAPClient
from pydantic import SecretStr
from sqlalchemy import Engine, select

from leadgen.clock import utc_now
from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.outreach import StaticMxResolver, send_queued
from leadgen.settings import ImapRoute, Settings
from leadgen_sandbox.sent_copy import SentFolderCopier
from leadgen_sandbox.smtp_sink import Fault, SmtpSink, delivered_message_ids
from tests.outreach.factories import MONDAY_NOON, make_offer, queued_messages
from tests.support.dovecot import Dovecot

ROOT = Path(__file__).resolve().parents[2]
OFFER = make_offer()
MX = StaticMxResolver({f"clinic{i}.ru": ["mx.yandex.net"] for i in range(200)})


def sink_settings(settings: Settings, sink: SmtpSink, **kw: object) -> Settings:
    env = settings.model_dump() | sink.settings_env("yandex") | sink.settings_env("gmail")
    env |= {"outreach_spacing_seconds": 0, "outreach_spacing_jitter_seconds": 0} | kw
    return Settings.model_validate(env)


def rows(engine: Engine) -> list[OutreachMessage]:
    with write_scope(engine) as s:
        return list(s.scalars(select(OutreachMessage).order_by(OutreachMessage.id)))


def check_invariants(maildir: Path, engine: Engine, *, cap: int) -> tuple[list[OutreachMessage], set[str]]:
    """No Message-ID delivered twice, every `sent` row delivered, every delivery's row sent or in doubt, the cap
    held, and every row in doubt past its DATA checkpoint."""
    got = Counter(delivered_message_ids(maildir))
    assert not got or max(got.values()) == 1, got.most_common(3)
    all_rows = rows(engine)
    sent = {r.message_id for r in all_rows if r.status == MessageStatus.SENT}
    doubt = {r.message_id for r in all_rows if r.status == MessageStatus.UNKNOWN}
    assert sent <= set(got), "a row marked sent never reached the server"
    assert set(got) <= sent | doubt, "the server got a message whose row is neither sent nor unknown"
    assert len(got) <= cap, f"{len(got)} deliveries with the daily cap at {cap}"
    for r in all_rows:
        if r.status == MessageStatus.UNKNOWN:
            assert r.data_started_at is not None, f"row {r.id} unknown without reaching its DATA checkpoint"
    recipients = Counter(r.to_email for r in all_rows if r.message_id in got)
    assert not recipients or max(recipients.values()) == 1
    return all_rows, set(got)


@pytest.mark.parametrize(
    ("fault", "in_doubt"),
    [
        (Fault.ACCEPT_DISCONNECT, True),  # kept, then the connection dropped before the reply
        (Fault.SLOW, True),  # kept, 250 after the client's end-of-data timeout
        (Fault.TEMP_421, False),
        (Fault.TEMP_452, False),
        (Fault.PERM_550, False),
    ],
)
def test_smtp_fault_after_data_never_duplicates(
    engine: Engine, settings: Settings, tmp_path: Path, fault: Fault, in_doubt: bool
) -> None:
    maildir = tmp_path / "delivered"
    cap = 20
    with SmtpSink(maildir=maildir, slow_seconds=2.0) as sink:
        st = sink_settings(
            settings,
            sink,
            outreach_daily_cap=cap,
            outreach_retry_backoff_seconds=60,
            smtp_data_timeout_seconds=0.5,
        )
        with write_scope(engine) as s:
            queued_messages(s, 40)
        now = MONDAY_NOON
        for _run in range(6):  # every run meets the fault twice, among good deliveries
            sink.fail_next(fault, times=2)
            send_queued(engine, st, limit=6, now=now, offer=OFFER, resolver=MX)
            now += timedelta(minutes=30)
        sink.clear_faults()
        final = send_queued(engine, st, limit=50, now=now, offer=OFFER, resolver=MX)
        all_rows, got = check_invariants(maildir, engine, cap=cap)
    by_status = Counter(r.status for r in all_rows)
    assert final.cap_reached and sum(by_status[s] for s in (MessageStatus.SENT, MessageStatus.UNKNOWN)) == cap
    if in_doubt:  # the server has each of them: never resent, and they count against the cap (2 per run
        # until the cap: 2 + 4 sent in each of three runs, then the two of the fourth)
        assert by_status[MessageStatus.UNKNOWN] == 8 and len(got) == cap
    elif fault is Fault.PERM_550:
        assert by_status[MessageStatus.FAILED] == 10 and len(got) == cap  # five runs, then the cap
    else:  # retried later: each message went out exactly once
        assert by_status[MessageStatus.UNKNOWN] == 0 and len(got) == cap


def test_route_refusing_starttls_fails_no_message_and_the_fallback_carries_on(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    maildir = tmp_path / "delivered"
    with SmtpSink(tls="none") as plain, SmtpSink(maildir=maildir) as good:
        # yandex points at a server without STARTTLS while STARTTLS is required
        st = sink_settings(
            settings,
            good,
            smtp_yandex_host=plain.host,
            smtp_yandex_port=plain.port,
            smtp_yandex_security="starttls",
        )
        with write_scope(engine) as s:
            queued_messages(s, 5)
        report = send_queued(engine, st, limit=10, now=MONDAY_NOON, offer=OFFER, resolver=MX)
        assert report.sent == 5 and plain.count == 0
        assert report.routes_down == (
            f"route yandex unavailable: STARTTLS not offered by 127.0.0.1:{plain.port} "
            "(check SMTP_YANDEX_SECURITY)",
        )
        all_rows, got = check_invariants(maildir, engine, cap=st.outreach_daily_cap)
    assert {r.route for r in all_rows} == {"gmail"} and {r.attempts for r in all_rows} == {1}
    assert len(got) == 5


def test_both_routes_down_three_runs_spend_no_attempt(engine: Engine, settings: Settings) -> None:
    with SmtpSink(tls="none") as plain:
        st = sink_settings(settings, plain, smtp_yandex_security="starttls", smtp_gmail_security="starttls")
        with write_scope(engine) as s:
            queued_messages(s, 3)
        for hour in range(3):
            report = send_queued(
                engine, st, limit=10, now=MONDAY_NOON + timedelta(hours=hour), offer=OFFER, resolver=MX
            )
            assert report.stopped_reason is not None
            assert report.stopped_reason.startswith("route yandex unavailable: STARTTLS not offered")
        assert plain.count == 0
    assert [(r.status, r.attempts, r.last_error) for r in rows(engine)] == [
        (MessageStatus.QUEUED, 0, None)
    ] * 3


# --- SIGKILL storm ----------------------------------------------------------------------------------------

# A pre-imported parent forks one `leadgen outreach send` per request (the CLI's own code path, argv and all),
# so thirty kills fit in seconds instead of thirty interpreter start-ups (the send path's modules are loaded once).
FORK_SERVER = textwrap.dedent(
    """
    import os, sys
    from leadgen.cli import main
    import leadgen.cli.context, leadgen.cli.outreach, leadgen.journal, leadgen.outreach.sending, leadgen.settings
    import leadgen.mailbox.sent, leadgen.db.engine, sqlalchemy.dialects.sqlite, sqlalchemy.dialects.postgresql
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            sys.argv = ["leadgen", "outreach", "send", "--limit", "200"]
            try:
                main()
            except SystemExit as exc:
                os._exit(exc.code if isinstance(exc.code, int) else 1)
            os._exit(0)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(status, flush=True)
    """
)
KILLS = 30
STORM_BUDGET_SECONDS = 80.0
RU_SENT = (
    "Отправленные"  # the fixture's \Sent folder, found through SPECIAL-USE (IMAP_<ROUTE>_SENT_FOLDER unset)
)
ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass
class Storm:
    kills: int = 0
    finished: int = 0
    elapsed: float = 0.0
    mid_storm: Counter[MessageStatus] = field(default_factory=Counter)


def _storm(sink: SmtpSink, env: dict[str, str], cwd: Path, engine: Engine, rng: random.Random) -> Storm:
    """Start senders one after another and SIGKILL each at a random point of an SMTP conversation."""
    server = subprocess.Popen(
        [sys.executable, "-c", FORK_SERVER],
        env=env,
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    storm = Storm()
    started = time.monotonic()
    try:
        while storm.kills < KILLS and time.monotonic() - started < STORM_BUDGET_SECONDS:
            seen = sink.rcpts_seen
            server.stdin.write("go\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            # Wait for the sender to be at work (a RCPT), then kill it at a random point of a conversation.
            deadline = time.monotonic() + 20
            while sink.rcpts_seen == seen and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.15))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            status = int(server.stdout.readline())
            if os.WIFSIGNALED(status):
                storm.kills += 1
            else:
                storm.finished += 1
                break  # the sender ran to the end (nothing left or the cap): the storm is over
    finally:
        server.stdin.close()
        server.wait(timeout=30)
        server.stdout.close()
    storm.elapsed = time.monotonic() - started
    storm.mid_storm = Counter(r.status for r in rows(engine))
    return storm


def _storm_env(db_url: str, offer: Path, sink: SmtpSink, cap: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env |= {"DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), "OUTREACH_OFFER_FILE": str(offer)}
    env |= {k.upper(): v for k, v in sink.settings_env("yandex").items()}
    env |= {k.upper(): v for k, v in sink.settings_env("gmail").items()}
    return env | {
        "OUTREACH_SPACING_SECONDS": "0",
        "OUTREACH_SPACING_JITTER_SECONDS": "0",
        "OUTREACH_SEND_WINDOW": "00:00-23:59",
        "OUTREACH_SEND_WEEKDAYS": ",".join(ALL_DAYS),
        "OUTREACH_DAILY_CAP": str(cap),
        "OUTREACH_STALE_SENDING_MINUTES": "0.001",  # one sender at a time: a row in `sending` is a crash's
        "ROUTING_MX_LOOKUP": "false",
    }


def _sent_folder_env(dovecot: Dovecot) -> dict[str, str]:
    """Both routes' mailboxes are the fixture's account; their sent copies are searched and reliable, and a
    row is settled as soon as its end-of-data timeout (1 s) has passed."""
    env = dovecot.env("yandex") | dovecot.env("gmail")
    for route in ("YANDEX", "GMAIL"):
        env |= {f"IMAP_{route}_SENT_COPIES": "true", f"IMAP_{route}_SENT_COPY_RELIABLE": "true"}
    return env | {"OUTREACH_SETTLE_AFTER_MINUTES": "0", "SMTP_DATA_TIMEOUT_SECONDS": "1"}


def _sink_copier(dovecot: Dovecot) -> SentFolderCopier:
    imap = ImapRoute(
        name="sink",
        host=dovecot.host,
        port=dovecot.port,
        security="plain",
        username=dovecot.username,
        password=SecretStr(dovecot.password),
        folder="INBOX",
        timeout=10,
        ca_file=None,
    )
    return SentFolderCopier(imap, RU_SENT)


@pytest.mark.parametrize("sent_folder", [False, True], ids=["no-sent-folder", "sent-folder"])
def test_sigkill_storm_delivers_nothing_twice(
    engine: Engine,
    db_url: str,
    settings: Settings,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    sent_folder: bool,
) -> None:
    """Without a sent folder the rows left `unknown` are only those past their DATA checkpoint; with one (the
    sink appends every accepted message to it, as a provider does), settlement leaves none `unknown`, each
    settled row carries its evidence, and every row marked sent was delivered exactly once."""
    dovecot: Dovecot | None = request.getfixturevalue("dovecot") if sent_folder else None
    rng = random.Random(23)
    maildir = tmp_path / "delivered"
    cap, total = 60, 80
    offer = tmp_path / "offer.toml"
    shutil.copy(ROOT / "offer.example.toml", offer)
    with write_scope(engine) as s:
        queued_messages(s, total)
    copies = _sink_copier(dovecot) if dovecot else None
    with SmtpSink(maildir=maildir, reply_delay=0.05, sent_copies=copies) as sink:  # slow: kills land mid-talk
        env = _storm_env(db_url, offer, sink, cap) | (_sent_folder_env(dovecot) if dovecot else {})
        storm = _storm(sink, env, tmp_path, engine, rng)
        # A last, uninterrupted run recovers what the storm left (and settles it) and sends the rest under the
        # cap; its clock runs a second ahead, past the stale age and the settle delay of the last kill's row.
        extra = {k.lower(): v for k, v in _sent_folder_env(dovecot).items()} if dovecot else {}
        st = sink_settings(
            settings,
            sink,
            outreach_daily_cap=cap,
            outreach_stale_sending_minutes=0.001,
            outreach_send_window="00:00-23:59",
            outreach_send_weekdays=ALL_DAYS,
            **extra,
        )
        final = send_queued(
            engine, st, limit=200, now=lambda: utc_now() + timedelta(seconds=1), offer=OFFER, resolver=MX
        )
        all_rows, got = check_invariants(maildir, engine, cap=cap)
    by_status = Counter(r.status for r in all_rows)
    unknown = [r for r in all_rows if r.status == MessageStatus.UNKNOWN]
    settled = [r for r in all_rows if r.meta.get("settlements")]
    print(
        f"\nstorm ({'sent folder' if sent_folder else 'no sent folder'}): {storm.kills} kills in "
        f"{storm.elapsed:.1f} s; mid-storm {dict(storm.mid_storm)}; final {dict(by_status)}; {len(got)} delivered; "
        f"unknown {len(unknown)}, of which delivered {sum(r.message_id in got for r in unknown)}; settled "
        f"{Counter(r.meta['settlements'][-1]['outcome'] for r in settled)} "
        f"(final run: {final.settled_sent} sent, {final.settled_requeued} requeued)"
    )
    assert storm.kills >= KILLS, f"only {storm.kills} kills in {storm.elapsed:.0f} s ({storm.finished} ended)"
    assert storm.elapsed < 90
    assert set(by_status) <= {MessageStatus.SENT, MessageStatus.UNKNOWN, MessageStatus.QUEUED}, by_status
    assert (
        by_status[MessageStatus.SENT] + by_status[MessageStatus.UNKNOWN] == cap
    )  # the cap is used, not passed
    assert all(r.attempts <= 1 for r in all_rows), "a crash before DATA (or a requeue) spent an attempt"
    if not sent_folder:
        assert storm.mid_storm[MessageStatus.UNKNOWN] > 0, (
            "the storm left nothing in doubt: it tested nothing"
        )
        return
    assert not unknown, "a sent folder was available: nothing may stay unknown"
    assert settled, "the storm left nothing in doubt: it tested nothing"
    sent = {r.message_id for r in all_rows if r.status == MessageStatus.SENT}
    assert sent == set(got)  # every row marked sent was delivered, exactly once (check_invariants)
    ours = {r.message_id for r in all_rows}  # the session's Dovecot keeps the copies of earlier tests too
    assert dovecot is not None
    assert Counter(m for m in _folder_ids(dovecot) if m in ours) == Counter(delivered_message_ids(maildir))
    for r in settled:  # each settlement names its route, folder and UID, or how long the copy was absent
        for record in r.meta["settlements"]:
            assert record["folder"] == RU_SENT and record["route"] in ("yandex", "gmail")
            assert (record["outcome"], record["uid"] is None) in (("sent", False), ("requeued", True))
            assert record["outcome"] == "sent" or record["absent_minutes"] is not None
        if r.meta["settlements"][-1]["outcome"] == "sent":
            assert r.message_id in got


def _folder_ids(dovecot: Dovecot) -> list[str]:
    """Every Message-ID in the sent folder of the fixture's mailbox (one per copy)."""
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as client:
        client.login(dovecot.username, dovecot.password)
        client.select_folder(RU_SENT, readonly=True)
        uids = client.search(["ALL"])
        data = client.fetch(uids, [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
    return [v[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().partition(":")[2].strip() for v in data.values()]
