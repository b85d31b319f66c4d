"""`leadgen health` against real servers: the sandbox (SMTP sink, Yandex emulator), Dovecot, SQLite and Postgres."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadgen.db import migrate
from leadgen.db.engine import make_engine
from leadgen.health import (
    Check,
    CheckResult,
    check_database,
    check_imap,
    check_prefect,
    check_schema,
    check_smtp,
    check_yandex,
    failed,
    plan_checks,
    run_checks,
    secret_values,
    smtp_context,
)
from leadgen.settings import Settings
from leadgen_sandbox.smtp_sink import SmtpSink
from leadgen_sandbox.stack import SandboxStack, settings_env
from tests.support.dovecot import Dovecot

TIMEOUT = 5.0


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def by_check(results: list[CheckResult]) -> dict[tuple[str, str], CheckResult]:
    return {(r.check, r.target.split()[0]): r for r in results}


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxStack]:
    with SandboxStack() as stack:
        yield stack


# --- database and schema revision ------------------------------------------------------------------------------


def test_migrated_database_is_ok(db_url: str) -> None:
    database, schema = check_database(db_url, TIMEOUT), check_schema(db_url, TIMEOUT)
    assert database.status == "ok" and database.detail.startswith("connected (")
    head = migrate.head_revision(make_engine(db_url))
    assert (schema.status, schema.detail) == ("ok", f"at head {head}")


def test_never_migrated_database_fails_with_the_upgrade_hint(empty_db_url: str, backend: str) -> None:
    schema = check_schema(empty_db_url, TIMEOUT)
    assert schema.status == "fail"
    assert "leadgen db upgrade" in schema.detail
    database = check_database(empty_db_url, TIMEOUT)
    if backend == "sqlite":  # no file yet: the check must not create an empty one
        assert database.status == "fail" and "does not exist" in database.detail
        assert not Path(empty_db_url.removeprefix("sqlite:///")).exists()
    else:
        assert database.status == "ok"
        assert schema.detail.startswith("not migrated")


def test_database_one_revision_behind_fails(db_url: str) -> None:
    engine = make_engine(db_url)
    head = migrate.head_revision(engine)
    migrate.downgrade(engine, "-1")
    previous = migrate.current_revision(engine)
    engine.dispose()
    schema = check_schema(db_url, TIMEOUT)
    assert schema.status == "fail"
    assert schema.detail == f"behind: at {previous}, code is at {head}: run `leadgen db upgrade`"


def test_revision_unknown_to_the_code_is_named(db_url: str) -> None:
    from sqlalchemy import text

    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    engine.dispose()
    schema = check_schema(db_url, TIMEOUT)
    assert schema.status == "fail" and "f00dfeed, unknown to this code" in schema.detail


def test_unreachable_postgres_fails_without_showing_the_password() -> None:
    url = f"postgresql+psycopg://leadgen:hunter2-secret@127.0.0.1:{closed_port()}/leadgen"
    conf = settings(database_url=url)
    results = run_checks(
        plan_checks(conf, prefect_api_url=None, only=["database"]),
        timeout=TIMEOUT,
        secrets=secret_values(conf),
    )
    assert [r.status for r in results] == ["fail", "fail"]
    assert results[0].detail.startswith("cannot connect: OperationalError")
    assert all("hunter2" not in r.target + r.detail for r in results)
    assert results[0].target.startswith("postgresql+psycopg://leadgen:***@127.0.0.1:")


# --- Prefect API -----------------------------------------------------------------------------------------------


def test_prefect_without_api_url_is_skipped_not_failed() -> None:
    result = check_prefect(None, TIMEOUT)
    assert result.status == "skipped" and "not set" in result.detail


def test_prefect_api_on_a_closed_port_fails() -> None:
    result = check_prefect(f"http://127.0.0.1:{closed_port()}/api", TIMEOUT)
    assert result.status == "fail"
    assert result.detail.startswith("unreachable: ConnectError")


def test_prefect_api_of_a_real_server_is_ok_in_process_and_through_the_cli(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.orchestration.server import prefect_server_process

    work = tmp_path_factory.mktemp("health-prefect")
    with prefect_server_process(work / "server") as server:
        result = check_prefect(server.api_url, TIMEOUT)
        assert (result.status, result.detail) == ("ok", "GET /health answered 200")
        proc = run_cli("--only", "prefect", "--json", env={"PREFECT_API_URL": server.api_url}, cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [(c["check"], c["target"], c["status"]) for c in json.loads(proc.stdout)["checks"]]
    assert rows == [("prefect", server.api_url, "ok")]


def test_prefect_api_url_credentials_never_reach_the_row() -> None:
    result = check_prefect(f"http://admin:pa55word@127.0.0.1:{closed_port()}/api", TIMEOUT)
    assert "pa55word" not in result.target + result.detail and "admin" not in result.target


# --- SMTP ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tls", ["none", "starttls", "ssl"])
def test_smtp_route_connects_logs_in_and_sends_nothing(tls: str, tmp_path: Path) -> None:
    with SmtpSink(tls=tls, auth=("sender@example.ru", "app-pass-123"), cert_dir=tmp_path) as sink:  # type: ignore[arg-type]
        conf = settings(**sink.settings_env("yandex"))
        result = check_smtp(conf.smtp_route("yandex"), smtp_context(conf), TIMEOUT)
        assert result.status == "ok", result.detail
        assert result.detail.endswith("login, QUIT; no mail sent")
        assert sink.messages == []


def test_smtp_wrong_password_fails_with_the_reply_code(tmp_path: Path) -> None:
    with SmtpSink(tls="starttls", auth=("sender@example.ru", "right"), cert_dir=tmp_path) as sink:
        env = sink.settings_env("gmail") | {"smtp_gmail_password": "wrong-password"}
        conf = settings(**env)
        results = run_checks(
            plan_checks(conf, prefect_api_url=None, only=["smtp"]),
            timeout=TIMEOUT,
            secrets=secret_values(conf),
        )
    rows = by_check(results)
    assert rows["smtp", "yandex"].status == "skipped"
    gmail = rows["smtp", "gmail"]
    assert gmail.status == "fail" and gmail.detail.startswith("login refused (535)")
    assert "wrong-password" not in gmail.detail


def test_smtp_port_closed_fails() -> None:
    port = closed_port()
    conf = settings(smtp_yandex_host="127.0.0.1", smtp_yandex_port=port, smtp_yandex_security="none")
    result = check_smtp(conf.smtp_route("yandex"), smtp_context(conf), TIMEOUT)
    assert result.status == "fail"
    assert result.target == f"yandex 127.0.0.1:{port}"
    assert result.detail.startswith("ConnectionRefusedError")


def test_a_server_that_never_answers_fails_within_the_timeout() -> None:
    with socket.socket() as silent:  # accepts TCP (backlog) but never sends a banner
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        conf = settings(smtp_gmail_host="127.0.0.1", smtp_gmail_port=port, smtp_gmail_security="none")
        started = time.monotonic()
        results = run_checks(plan_checks(conf, prefect_api_url=None, only=["smtp"]), timeout=0.5)
        elapsed = time.monotonic() - started
    gmail = by_check(results)["smtp", "gmail"]
    assert gmail.status == "fail" and "no answer within 0.5s" in gmail.detail
    assert elapsed < 3


def test_a_check_that_hangs_is_abandoned_and_fails() -> None:
    import threading

    release = threading.Event()

    def stuck(timeout: float) -> CheckResult:
        release.wait(30)  # ignores its timeout: the runner must not wait for it
        return CheckResult("database", "x", "ok", "late")

    try:
        results = run_checks([Check("database", "db", stuck)], timeout=0.2)
    finally:
        release.set()
    assert results == [CheckResult("database", "db", "fail", "no answer within 0.2s")]


# --- Yandex ----------------------------------------------------------------------------------------------------


def test_yandex_service_account_key_gets_a_token_from_the_emulator(sandbox: SandboxStack) -> None:
    conf = settings(**sandbox.emulator.settings_overrides(auth="sa_key"))
    result = check_yandex(conf, TIMEOUT)
    assert result.status == "ok" and result.detail == "IAM token obtained"


def test_yandex_refused_key_fails(sandbox: SandboxStack) -> None:
    from leadgen.yandex.auth import ServiceAccountKey

    overrides = sandbox.emulator.settings_overrides(auth="sa_key")
    key = ServiceAccountKey.from_json(str(overrides["yandex_cloud_sa_key_json"]))
    # Same private key, another key id: the IAM emulator does not know it.
    foreign = json.dumps(
        {
            "id": "ajeunknownkeyid0000",
            "service_account_id": key.service_account_id,
            "private_key": key.private_key.get_secret_value(),
        }
    )
    conf = settings(**overrides | {"yandex_cloud_sa_key_json": foreign})
    result = check_yandex(conf, TIMEOUT)
    assert result.status == "fail", result.detail
    assert "IAM token exchange" in result.detail


def test_yandex_iam_endpoint_closed_fails() -> None:
    from leadgen_sandbox.yandex_emulator import YandexEmulator

    with YandexEmulator() as emulator:
        overrides = emulator.settings_overrides(auth="sa_key")
    conf = settings(**overrides)  # the emulator is stopped: its port is closed
    result = check_yandex(conf, TIMEOUT)
    assert result.status == "fail" and "IAM token exchange" in result.detail


def test_yandex_without_credentials_is_skipped_and_without_folder_fails() -> None:
    assert check_yandex(settings(), TIMEOUT).status == "skipped"
    result = check_yandex(settings(yandex_api_key="AQVN-key-value"), TIMEOUT)
    assert result.status == "fail" and "YANDEX_FOLDER_ID" in result.detail


# --- IMAP ------------------------------------------------------------------------------------------------------


def imap_settings(dovecot: Dovecot, security: str = "plain", **extra: str) -> Settings:
    env = {k.lower(): v for k, v in dovecot.env("yandex", security=security).items()}
    return settings(**env | extra)


@pytest.mark.parametrize("security", ["plain", "starttls", "ssl"])
def test_imap_mailbox_logs_in_and_selects_read_only(dovecot: Dovecot, security: str) -> None:
    dovecot.deliver(b"From: a@example.ru\r\nTo: leads@example.ru\r\nSubject: hi\r\n\r\nbody\r\n")
    conf = imap_settings(dovecot, security)
    result = check_imap(conf.imap_route("yandex"), TIMEOUT)
    assert result.status == "ok", result.detail
    assert result.detail == f"logged in as {dovecot.username}, selected read-only (1 messages)"
    assert len(list((dovecot.maildir_path / "new").iterdir())) == 1, "read-only: nothing moved to cur/"


def test_imap_wrong_password_fails(dovecot: Dovecot) -> None:
    conf = imap_settings(dovecot, imap_yandex_password="not-the-password")
    results = run_checks(
        plan_checks(conf, prefect_api_url=None, only=["imap"]), timeout=TIMEOUT, secrets=secret_values(conf)
    )
    rows = by_check(results)
    assert rows["imap", "gmail"].status == "skipped"
    yandex = rows["imap", "yandex"]
    assert yandex.status == "fail" and "refused the login of leads" in yandex.detail
    assert "not-the-password" not in yandex.detail


# --- everything at once, and the CLI ---------------------------------------------------------------------------


def test_whole_sandbox_is_green(sandbox: SandboxStack, dovecot: Dovecot, db_url: str, tmp_path: Path) -> None:
    overrides = sandbox.settings_overrides(tmp_path) | {"database_url": db_url}
    overrides |= {k.lower(): v for k, v in dovecot.env("gmail").items()}
    conf = settings(**overrides)
    results = run_checks(
        plan_checks(conf, prefect_api_url=None), timeout=TIMEOUT, secrets=secret_values(conf)
    )
    assert not failed(results), [r for r in results if r.status == "fail"]
    statuses = [(r.check, r.status) for r in results]
    assert statuses == [
        ("database", "ok"),
        ("schema", "ok"),
        ("prefect", "skipped"),
        ("smtp", "ok"),
        ("smtp", "ok"),
        ("yandex", "ok"),
        ("imap", "skipped"),
        ("imap", "ok"),
    ]


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadgen", "health", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PREFECT_HOME": str(cwd / "prefect"), **env},
        timeout=120,
        check=False,
    )


def test_cli_green_against_the_sandbox_exits_0(sandbox: SandboxStack, db_url: str, tmp_path: Path) -> None:
    env = settings_env(sandbox.settings_overrides(tmp_path / "work") | {"database_url": db_url})
    proc = run_cli("--json", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    assert [(c["check"], c["status"]) for c in report["checks"]][:6] == [
        ("database", "ok"),
        ("schema", "ok"),
        ("prefect", "skipped"),
        ("smtp", "ok"),
        ("smtp", "ok"),
        ("yandex", "ok"),
    ]
    assert env["YANDEX_API_KEY"] not in proc.stdout


def test_cli_red_when_parts_are_down_exits_1_with_clear_rows(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'never-migrated.db'}",
        "PREFECT_API_URL": f"http://127.0.0.1:{closed_port()}/api",
        "SMTP_GMAIL_HOST": "127.0.0.1",
        "SMTP_GMAIL_PORT": str(closed_port()),
        "SMTP_GMAIL_SECURITY": "none",
        "COLUMNS": "400",
    }
    proc = run_cli("--timeout", "5", env=env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()

    def row(check: str, target: str = "") -> str:
        return next(line for line in lines if line.startswith(f"│ {check} ") and f"│ {target}" in line)

    assert "fail" in row("database") and "does not exist: run `leadgen db upgrade`" in row("database")
    assert "fail" in row("prefect") and "Connection refused" in row("prefect")
    assert "fail" in row("smtp", "gmail 127.0.0.1") and "ConnectionRefusedError" in row("smtp", "gmail")
    assert lines[-1] == "0 ok, 4 failed, 4 skipped"


def container_healthchecks() -> list[list[str]]:
    """The `leadgen health` commands of the compose `app` service and of the image's HEALTHCHECK."""
    root = Path(__file__).resolve().parents[2]
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    test = compose["services"]["app"]["healthcheck"]["test"]
    dockerfile = (root / "Dockerfile").read_text()
    found = re.findall(r"^HEALTHCHECK .*?CMD (\[.*?\])$", dockerfile, re.M | re.S)
    assert found, "the Dockerfile lost its HEALTHCHECKs"
    return [test[1:], json.loads(found[-1])]  # the last stage is the app image


def test_container_healthchecks_run_the_database_checks(
    db_url: str, empty_db_url: str, tmp_path: Path
) -> None:
    for command in container_healthchecks():
        assert command[:2] == ["leadgen", "health"]
        proc = run_cli(*command[2:], "--json", env={"DATABASE_URL": db_url}, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert [c["check"] for c in json.loads(proc.stdout)["checks"]] == ["database", "schema"]
    proc = run_cli(*command[2:], env={"DATABASE_URL": empty_db_url}, cwd=tmp_path)
    assert proc.returncode == 1 and "leadgen db upgrade" in proc.stdout


def test_cli_unknown_check_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("--only", "dns", env={}, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error:") and "database, prefect, smtp, yandex, imap" in proc.stderr


def test_a_secret_in_any_detail_is_masked() -> None:
    conf = settings(smtp_yandex_password="app-pass-9f3k", openai_api_key="sk-live-abcdef")

    def leaky(timeout: float) -> CheckResult:  # e.g. a server that echoes the password in its error reply
        return CheckResult("smtp", "yandex", "fail", "535 bad password app-pass-9f3k\nfor sk-live-abcdef")

    results = run_checks([Check("smtp", "yandex", leaky)], timeout=TIMEOUT, secrets=secret_values(conf))
    assert results == [CheckResult("smtp", "yandex", "fail", "535 bad password *** for ***")]


def test_the_help_names_every_check() -> None:
    from leadgen.cli.health import CHECKS_HELP
    from leadgen.health import CHECK_NAMES

    assert CHECKS_HELP.split(", ") == list(CHECK_NAMES)
