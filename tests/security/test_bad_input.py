"""Hostile and careless input through the real CLI (issue 22): every case ends in exactly one `error:` line on
stderr, no traceback, exit 2 for a bad setting or argument and 1 for a runtime failure, and nothing is lost.

Each case runs `python -m leadgen` in a subprocess (the console script's error boundary included). Cases that touch
the database run on SQLite and, with LEADGEN_TEST_DATABASE_URL set, on Postgres.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgen.db import OptOut, OptOutKind, SerpQuery, make_engine

ROOT = Path(__file__).resolve().parents[2]
NICHES = "niche;city;batch_tag\nпластиковые окна;Москва;b1\nклининг;Казань;b1\n"
ALL_BAD = "niche;city;lr\nокна;Готэм;\n;Москва;\nremont site:avito.ru;Омск;\nокна;;0\nокна;;100000000000000000000000\n"
NO_SENDER_OFFER = '[offer]\nproduct = "CRM"\npitch = "x"\n[unsubscribe]\ntext = "reply stop"\n'


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int
    expect: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def run_cli(args: tuple[str, ...], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadgen", *args],
        capture_output=True,
        text=True,
        # LOG_LEVEL=WARNING: INFO log lines (a separate channel the operator chose) are not part of the promise
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING", **env},
        cwd=cwd,
        timeout=120,
        check=False,
    )


def assert_one_line(proc: subprocess.CompletedProcess[str], case: Case) -> str:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    assert proc.returncode == case.code, (proc.returncode, line)
    for text in case.expect:
        assert text in line, (text, line)
    for text in case.forbid:
        assert text not in proc.stderr + proc.stdout, (text, line)
    return line


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "notdb.db").write_text("name,value\nthis is a CSV, not an SQLite database\n")
    (tmp_path / "in.csv").write_text(NICHES, encoding="utf-8")
    (tmp_path / "allbad.csv").write_text(ALL_BAD, encoding="utf-8")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "offer.toml").write_text(NO_SENDER_OFFER, encoding="utf-8")
    (tmp_path / "a-file").write_text("x")
    return tmp_path


SETTINGS_CASES = [
    Case("mysql-url", ("db", "current"), 2, ("'mysql'", "sqlite", "postgresql+psycopg"), (),
         {"DATABASE_URL": "mysql://leadgen:hunter2@db.example/leadgen"}),
    Case("asyncpg-url", ("db", "current"), 2, ("'postgresql+asyncpg'", "postgresql+psycopg"), ("hunter2",),
         {"DATABASE_URL": "postgresql+asyncpg://leadgen:hunter2@127.0.0.1/leadgen"}),
    Case("unencoded-at-in-password", ("db", "current"), 2, ("%40",), ("hunt", "er@2", "127.0.0.1"),
         {"DATABASE_URL": "postgresql://leadgen:hunt@er@2@127.0.0.1:9/leadgen"}),
    Case("sqlite-file-not-a-database", ("db", "current"), 2, ("not an SQLite database",), (),
         {"DATABASE_URL": "sqlite:///{tmp}/notdb.db"}),
    Case("weekday-funday", ("db", "current"), 2, ("OUTREACH_SEND_WEEKDAYS", "'funday'"), (),
         {"OUTREACH_SEND_WEEKDAYS": "monday,funday"}),
    Case("weekdays-empty", ("db", "current"), 2, ("OUTREACH_SEND_WEEKDAYS", "no weekdays"), (),
         {"OUTREACH_SEND_WEEKDAYS": " , "}),
    Case("body-min-above-max", ("db", "current"), 2, ("OUTREACH_BODY_MIN_CHARS", "OUTREACH_BODY_MAX_CHARS"), (),
         {"OUTREACH_BODY_MIN_CHARS": "2500", "OUTREACH_BODY_MAX_CHARS": "2000"}),
    Case("night-window-in-daytime", ("db", "current"), 2, ("NIGHT_WINDOW", "NIGHT_WINDOW_ALLOW_DAYTIME"), (),
         {"NIGHT_WINDOW": "09:00-18:00"}),
    Case("night-window-utc-default", ("db", "current"), 2, ("NIGHT_WINDOW", "MSK"), (),
         {"APP_TIMEZONE": "UTC"}),
    Case("bad-time-zone", ("db", "current"), 2, ("APP_TIMEZONE",), (), {"APP_TIMEZONE": "Nowhere/Land"}),
]  # fmt: skip


@pytest.mark.parametrize("case", SETTINGS_CASES, ids=lambda c: c.id)
def test_bad_settings(case: Case, files: Path) -> None:
    env = {k: v.replace("{tmp}", str(files)) for k, v in case.env.items()}
    env.setdefault("DATABASE_URL", f"sqlite:///{files / 'unused.db'}")
    assert_one_line(run_cli(case.args, env, files), case)


def test_daytime_night_window_with_the_override_loads(files: Path) -> None:
    env = {"NIGHT_WINDOW": "09:00-18:00", "NIGHT_WINDOW_ALLOW_DAYTIME": "true",
           "DATABASE_URL": f"sqlite:///{files / 'ok.db'}"}  # fmt: skip
    proc = run_cli(("db", "current"), env, files)
    assert proc.returncode == 0, proc.stderr


DB_CASES = [
    Case("upgrade-unknown-revision", ("db", "upgrade", "nosuchrev"), 2, ("unknown revision 'nosuchrev'", "head")),
    Case("downgrade-unknown-revision", ("db", "downgrade", "f00dfeed"), 2, ("unknown revision",)),
    Case("export-out-missing-folder", ("export", "domains", "--out", "{tmp}/no/such/dir/d.csv"), 2,
         ("does not exist",)),
    Case("export-out-under-a-file", ("export", "contacts", "--out", "{tmp}/a-file/c.csv"), 2, ("does not exist",)),
    Case("export-out-unwritable", ("export", "domains", "--out", "/proc/leadgen-domains.csv"), 2,
         ("cannot write into /proc",)),
    Case("export-out-is-a-folder", ("export", "domains", "--out", "{tmp}"), 2, ("is a directory",)),
    Case("plan-status-out-is-the-input", ("plan", "--csv", "{tmp}/in.csv", "--status-out", "{tmp}/in.csv"), 2,
         ("refusing to overwrite the input",)),
    Case("plan-status-out-same-file-other-spelling",
         ("plan", "--csv", "{tmp}/in.csv", "--status-out", "{tmp}/./../{name}/in.csv"), 2, ("overwrite the input",)),
    Case("plan-status-out-missing-folder",
         ("plan", "--csv", "{tmp}/in.csv", "--status-out", "{tmp}/out/status.csv"), 2, ("does not exist",)),
    Case("plan-batch-tag-too-long", ("plan", "--csv", "{tmp}/in.csv", "--batch-tag", "b" * 101), 2,
         ("--batch-tag", "longer than 100")),
    Case("plan-batch-tag-bad-characters", ("plan", "--csv", "{tmp}/in.csv", "--batch-tag", "nov batch!"), 2,
         ("--batch-tag", "letters, digits")),
    Case("plan-every-row-fails", ("plan", "--csv", "{tmp}/allbad.csv", "--batch-tag", "b1"), 1,
         ("every row failed (5 row errors)",)),
    Case("plan-binary-file", ("plan", "--csv", "{tmp}/binary.csv"), 2, ("UTF-8",)),
    Case("plan-missing-file-with-markup-path", ("plan", "--csv", "{tmp}/[/x]/[bold]n.csv"), 2,
         ("CSV file not found", "[/x]/[bold]n.csv")),
    Case("offer-without-sender-table", ("outreach", "preview", "okna.ru"), 1, ("missing table [sender]",),
         (), {"OUTREACH_OFFER_FILE": "{tmp}/offer.toml"}),
    Case("downgrade-base-drops-rows", ("db", "downgrade", "base"), 2,
         ("opt_out_registry (1 rows)", "--yes")),
    Case("offer-file-missing", ("outreach", "draft"), 2, ("offer file", "copy offer.example.toml"), (),
         {"OUTREACH_OFFER_FILE": "{tmp}/no/offer.toml"}),
    Case("send-dry-run-outbox-missing", ("outreach", "send", "--dry-run"), 2,
         ("OUTREACH_DRY_RUN_DIR", "create it first"), (),
         {"OUTREACH_OFFER_FILE": str(ROOT / "offer.example.toml"), "OUTREACH_DRY_RUN_DIR": "{tmp}/no/outbox"}),
]  # fmt: skip


@pytest.mark.parametrize("case", DB_CASES, ids=lambda c: c.id)
def test_bad_input_with_a_database(case: Case, files: Path, db_url: str) -> None:
    engine = make_engine(db_url)
    with Session(engine) as s, s.begin():
        s.add(OptOut(kind=OptOutKind.EMAIL, value="boss@okna.ru", reason="asked [/x]", source="cli"))
    sub = {"{tmp}": str(files), "{name}": files.name}

    def fill(text: str) -> str:
        for key, value in sub.items():
            text = text.replace(key, value)
        return text

    env = {"DATABASE_URL": db_url, **{k: fill(v) for k, v in case.env.items()}}
    before = (files / "in.csv").read_bytes()
    assert_one_line(run_cli(tuple(fill(a) for a in case.args), env, files), case)
    # nothing lost: the input is untouched, no query was planned, no table was dropped
    assert (files / "in.csv").read_bytes() == before
    assert not (files / "out").exists() and not (files / "no").exists()
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SerpQuery)) == 0
        assert s.scalar(select(func.count()).select_from(OptOut)) == 1
    engine.dispose()


@pytest.mark.parametrize(
    "args",
    [("plan", "--csv", "in.csv", "--dry-run"), ("outreach", "send", "--dry-run")],
    ids=["plan", "send"],
)
def test_dry_run_creates_no_database_file(args: tuple[str, ...], files: Path) -> None:
    """A dry run against a SQLite file that does not exist says so and leaves no empty database behind."""
    case = Case("dry-run-no-db", args, 1, ("does not exist", "a dry run creates nothing"))
    (files / "outbox").mkdir()
    env = {"DATABASE_URL": f"sqlite:///{files / 'fresh.db'}", "OUTREACH_DRY_RUN_DIR": str(files / "outbox"),
           "OUTREACH_OFFER_FILE": str(ROOT / "offer.example.toml")}  # fmt: skip
    assert_one_line(run_cli(args, env, files), case)
    assert not list(files.glob("fresh.db*"))


def test_missing_table_gets_the_upgrade_hint(files: Path, empty_db_url: str) -> None:
    case = Case("unmigrated", ("optout", "list"), 1, ("database error", "(try `leadgen db upgrade`)"))
    assert_one_line(run_cli(case.args, {"DATABASE_URL": empty_db_url}, files), case)


def test_unreachable_database_gets_no_upgrade_hint(files: Path) -> None:
    case = Case("unreachable", ("optout", "list"), 1, ("cannot connect",), ("db upgrade", "hunter2"))
    env = {"DATABASE_URL": "postgresql+psycopg://leadgen:hunter2@127.0.0.1:9/leadgen"}
    assert_one_line(run_cli(case.args, env, files), case)


def test_terminated_connection_gets_no_upgrade_hint(backend: str, db_url: str) -> None:
    """A real Postgres session killed by the server (pg_terminate_backend) is reported as a database error, with
    no `db upgrade` hint and no SQL."""
    if backend != "postgres":
        pytest.skip("pg_terminate_backend is Postgres-only; SQLite has no server to drop the connection")
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from leadgen.cli.failures import describe

    engine, admin = make_engine(db_url), make_engine(db_url)
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError) as caught:
            conn.execute(text("SELECT value FROM opt_out_registry WHERE value = :v"), {"v": "secret@x.ru"})
    engine.dispose()
    admin.dispose()
    message, code = describe(caught.value) or ("", 0)
    assert code == 1 and message.startswith("database error: "), message
    assert "db upgrade" not in message and "SELECT" not in message and "secret" not in message
    assert "\n" not in message


def test_database_errors_name_the_cause_without_sql_or_parameters() -> None:
    import psycopg
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    from leadgen.cli.failures import describe

    params = [{"value": f"secret-{i}@hostile.example"} for i in range(3)]
    dropped = OperationalError(
        "INSERT INTO contacts (value) VALUES (%(value)s)",
        params,
        psycopg.OperationalError("server closed the connection unexpectedly\n\tThis probably means ..."),
    )
    message, code = describe(dropped) or ("", 0)
    assert (message, code) == ("database error: server closed the connection unexpectedly", 1)
    missing = ProgrammingError(
        "SELECT * FROM companies", {}, psycopg.errors.UndefinedTable('relation "companies" does not exist')
    )
    message, code = describe(missing) or ("", 0)
    assert message.endswith("(try `leadgen db upgrade`)") and code == 1
    duplicate = IntegrityError(
        "INSERT INTO contacts (value) VALUES (?)", ("secret@x.ru",), Exception("UNIQUE constraint failed: x")
    )
    message, _ = describe(duplicate) or ("", 0)
    assert "secret" not in message and "INSERT" not in message and "db upgrade" not in message
