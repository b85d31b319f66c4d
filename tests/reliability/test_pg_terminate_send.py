"""Fault matrix: `pg_terminate_backend` of a real `leadgen outreach send` process's connections, again and again.

Each sender runs as its own process against the sandbox SMTP sink (a slow one, so the terminations land in the
middle of conversations) with a database URL naming it (`application_name`); the test terminates every backend of
that name at a random moment after the sender starts talking to the sink. The sender stops with one `error:` line
(which never suggests `leadgen db upgrade`: nothing is missing from the schema); the next sender releases the
stopped one's claims at once (its owner, the process, is gone), with no stale timeout. At the end: no Message-ID
delivered twice, no recipient mailed twice, no row `sent` the sink did not get, deliveries within the cap, no row
left in `sending`; how many rows ended `unknown` is printed.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus
from leadgen.settings import Settings
from leadgen_sandbox.smtp_sink import SmtpSink
from tests.conftest import PG_URL
from tests.outreach.factories import queued_messages
from tests.reliability.test_send_path_faults import check_invariants, rows

ROOT = Path(__file__).resolve().parents[2]
APP_NAME = "leadgen-sender-under-test"
TERMINATIONS = 15
MAX_RUNS = 6
RUN_TIMEOUT = 60.0
# A pre-imported parent forks one `leadgen outreach send` per request (the CLI's own code path), its stderr into
# the file named by the request, so a sender starts in milliseconds rather than seconds on a loaded machine.
FORK_SERVER = textwrap.dedent(
    """
    import os, sys
    from leadgen.cli import main
    import leadgen.cli.outreach, leadgen.outreach.sending, leadgen.cli.owners
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            os.dup2(os.open(line.strip(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
            sys.argv = ["leadgen", "outreach", "send", "--limit", "200"]
            try:
                main()
            except SystemExit as exc:
                os._exit(exc.code if isinstance(exc.code, int) else 1)
            os._exit(0)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)
    """
)


class Senders:
    """Start a sender (a forked `leadgen outreach send`), see whether it still runs, wait for its exit code."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.cwd = cwd
        self.server = subprocess.Popen([sys.executable, "-c", FORK_SERVER], env=env, cwd=cwd,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        self.runs = 0

    def start(self) -> int:
        assert self.server.stdin is not None and self.server.stdout is not None
        self.runs += 1
        self.server.stdin.write(f"{self.cwd / f'stderr-{self.runs}.txt'}\n")
        self.server.stdin.flush()
        return int(self.server.stdout.readline())

    @staticmethod
    def running(pid: int) -> bool:
        stat = Path(f"/proc/{pid}/stat")
        return stat.exists() and stat.read_text().rpartition(")")[2].split()[0] not in ("Z", "X")

    def wait(self) -> tuple[int, str]:
        assert self.server.stdout is not None
        code = int(self.server.stdout.readline())
        return code, (self.cwd / f"stderr-{self.runs}.txt").read_text()

    def close(self) -> None:
        assert self.server.stdin is not None
        self.server.stdin.close()
        self.server.wait(timeout=RUN_TIMEOUT)


pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="pg_terminate_backend needs Postgres (LEADGEN_TEST_DATABASE_URL)"),
    pytest.mark.parametrize("backend", ["postgres"], indirect=True),
]


def sender_env(db_url: str, sink: SmtpSink, offer: Path, *, cap: int) -> dict[str, str]:
    """The environment of a sender process: the test database (named, so its backends can be found), the sink
    on both routes, an always-open send window, and the default stale age (only owner release recovers)."""
    url = make_url(db_url).update_query_dict({"application_name": APP_NAME})
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env |= {"DATABASE_URL": url.render_as_string(hide_password=False), "PYTHONPATH": str(ROOT)}
    env |= {k.upper(): v for k, v in sink.settings_env("yandex").items()}
    env |= {k.upper(): v for k, v in sink.settings_env("gmail").items()}
    return env | {
        "OUTREACH_OFFER_FILE": str(offer),
        "OUTREACH_SPACING_SECONDS": "0",
        "OUTREACH_SPACING_JITTER_SECONDS": "0",
        "OUTREACH_SEND_WINDOW": "00:00-23:59",
        "OUTREACH_SEND_WEEKDAYS": "mon,tue,wed,thu,fri,sat,sun",
        "OUTREACH_DAILY_CAP": str(cap),
        "ROUTING_MX_LOOKUP": "false",
    }


def terminate_sender(admin: Engine) -> int:
    """Terminate every backend of the sender; returns how many there were."""
    with admin.connect() as conn:
        return len(
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": APP_NAME},
            ).all()
        )


def test_terminated_connections_deliver_nothing_twice(
    engine: Engine, db_url: str, backend: str, tmp_path: Path
) -> None:
    rng = random.Random(2307)
    maildir = tmp_path / "delivered"
    cap, total = 40, 60
    offer = tmp_path / "offer.toml"
    shutil.copy(ROOT / "offer.example.toml", offer)
    with write_scope(engine) as s:
        queued_messages(s, total)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    terminations = stopped = 0
    errors: list[str] = []
    mid = Counter[str]()
    with SmtpSink(maildir=maildir, reply_delay=0.03) as sink:
        env = sender_env(db_url, sink, offer, cap=cap)
        senders = Senders(env, tmp_path)
        try:
            while terminations < TERMINATIONS and senders.runs < MAX_RUNS:
                seen = sink.rcpts_seen
                pid = senders.start()
                deadline = time.monotonic() + RUN_TIMEOUT
                while sink.rcpts_seen == seen and senders.running(pid) and time.monotonic() < deadline:
                    time.sleep(0.005)
                # Terminate its connections at random moments until it stops (a statement meets a terminated
                # connection: the sender stops with one error line) or ends by itself.
                while senders.running(pid) and time.monotonic() < deadline:
                    time.sleep(rng.uniform(0.0, 0.25))
                    terminations += terminate_sender(admin) if senders.running(pid) else 0
                code, stderr = senders.wait()
                if code != 0:
                    stopped += 1
                    errors += [line for line in stderr.splitlines() if line.startswith("error:")]
                if code == 0 and sink.rcpts_seen == seen:
                    break  # nothing left to send (the cap or an empty queue)
            mid = Counter(r.status.value for r in rows(engine))
            # A last sender, never interrupted, releases what the terminations left and sends under the cap.
            senders.start()
            code, stderr = senders.wait()
            assert code == 0, stderr
        finally:
            senders.close()
            admin.dispose()
        all_rows, got = check_invariants(maildir, engine, cap=cap)
    by_status = Counter(r.status for r in all_rows)
    unknown = [r for r in all_rows if r.status == MessageStatus.UNKNOWN]
    print(
        f"\npg_terminate_backend: {terminations} backends terminated under {senders.runs - 1} senders, {stopped} of which "
        f"stopped on a failed statement; mid-run {dict(mid)}; final "
        f"{ {s.value: n for s, n in by_status.items()} }; {len(got)} delivered; {len(unknown)} unknown, of which "
        f"delivered {sum(r.message_id in got for r in unknown)}; error lines: {sorted(set(errors))}"
    )
    assert terminations >= 5, f"only {terminations} terminations"
    assert len(errors) == stopped, "a stopped sender printed no `error:` line (or more than one)"
    assert all(e.startswith("error: database error: ") for e in errors), errors
    assert not any("db upgrade" in e for e in errors), errors
    assert by_status[MessageStatus.SENDING] == 0, "a stopped sender's claim was not released"
    assert by_status[MessageStatus.SENT] + by_status[MessageStatus.UNKNOWN] == cap  # the cap used, not passed
    assert all(r.attempts <= 1 for r in all_rows), "a termination spent an attempt of a message not sent"
