"""`leadgen health`: one small check per dependency (database, schema, Prefect API, SMTP, Yandex, IMAP), each bounded.

checks = plan_checks(settings, prefect_api_url=url, timeout=10.0)
results = run_checks(checks, timeout=10.0, secrets=secret_values(settings))   # never hangs, never shows a secret
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from leadgen.settings import ImapRoute, RouteName, Settings, SmtpRoute

Status = Literal["ok", "fail", "skipped"]
CHECK_NAMES = ("database", "prefect", "smtp", "yandex", "imap")
UPGRADE_HINT = "run `leadgen db upgrade`"
ROUTE_NAMES: tuple[RouteName, ...] = get_args(RouteName)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One row of the report: what was checked, where, how it went, and why (one line, no secret)."""

    check: str
    target: str
    status: Status
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "target": self.target, "status": self.status, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Check:
    """A check not run yet: `run(timeout)` returns its result or raises (the runner turns that into `fail`)."""

    name: str  # one of CHECK_NAMES, what `--only` selects
    target: str
    run: Callable[[float], CheckResult]


def ok(check: str, target: str, detail: str) -> CheckResult:
    return CheckResult(check, target, "ok", detail)


def fail(check: str, target: str, detail: str) -> CheckResult:
    return CheckResult(check, target, "fail", detail)


def skipped(check: str, target: str, detail: str) -> CheckResult:
    return CheckResult(check, target, "skipped", detail)


# --- database -------------------------------------------------------------------------------------------------


def database_target(url: str) -> str:
    """The database URL with its password masked."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an invalid URL is reported by the check itself; never echo it
        return "DATABASE_URL"


def _sqlite_missing(url: str) -> Path | None:
    """The file of a SQLite URL when it does not exist (connecting would create an empty one)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def _engine(url: str, timeout: float):  # type: ignore[no-untyped-def]
    from sqlalchemy.pool import NullPool

    from leadgen.db.engine import make_engine

    if url.startswith("sqlite"):
        return make_engine(url, poolclass=NullPool)
    return make_engine(url, poolclass=NullPool, connect_args={"connect_timeout": max(1, round(timeout))})


def _db_error(exc: BaseException) -> str:
    """A driver error without SQLAlchemy's SQL echo and background link."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def check_database(url: str, timeout: float) -> CheckResult:
    """Connect and run `SELECT 1`."""
    from sqlalchemy import text

    target = database_target(url)
    missing = _sqlite_missing(url)
    if missing is not None:
        return fail("database", target, f"the SQLite file does not exist: {UPGRADE_HINT} to create it")
    engine = _engine(url, timeout)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            version = conn.dialect.server_version_info
    except Exception as exc:
        return fail("database", target, f"cannot connect: {_db_error(exc)}")
    finally:
        engine.dispose()
    shown = " " + ".".join(str(part) for part in version) if version else ""
    return ok("database", target, f"connected ({engine.dialect.name}{shown})")


def check_schema(url: str, timeout: float) -> CheckResult:
    """Alembic: the database's revision against the newest one this code ships; behind is a failure."""
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util.exc import CommandError

    from leadgen.db import migrate

    target = database_target(url)
    if _sqlite_missing(url) is not None:
        return fail("schema", target, f"no database file: {UPGRADE_HINT}")
    engine = _engine(url, timeout)
    try:
        current = migrate.current_revision(engine)
        script = ScriptDirectory.from_config(migrate.alembic_config(url))
        head = script.get_current_head()
    except Exception as exc:
        return fail("schema", target, f"cannot read the revision: {_db_error(exc)}")
    finally:
        engine.dispose()
    if current is None:
        return fail("schema", target, f"not migrated (no revision; code is at {head}): {UPGRADE_HINT}")
    if current == head:
        return ok("schema", target, f"at head {head}")
    try:
        behind = head in {rev.revision for rev in script.iterate_revisions(head, current)}
    except (CommandError, RevisionError):  # `current` is not one of ours: migrated by newer code
        behind = False
    if behind:
        return fail("schema", target, f"behind: at {current}, code is at {head}: {UPGRADE_HINT}")
    return fail(
        "schema", target, f"at {current}, unknown to this code (head {head}): newer code migrated it?"
    )


# --- Prefect --------------------------------------------------------------------------------------------------


def api_target(url: str) -> str:
    """An API URL without user info (a basic-auth password never reaches the table)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_prefect(api_url: str | None, timeout: float) -> CheckResult:
    """GET <PREFECT_API_URL>/health; skipped when no API URL is set (flows then use an ephemeral local API)."""
    if not api_url:
        return skipped("prefect", "PREFECT_API_URL", "not set: flows run against an ephemeral local API")
    import httpx

    target = api_target(api_url)
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout)
    except httpx.TimeoutException:
        return fail("prefect", target, f"no answer within {timeout:g}s")
    except httpx.HTTPError as exc:
        return fail("prefect", target, f"unreachable: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    if response.status_code != 200:
        return fail("prefect", target, f"GET /health answered HTTP {response.status_code}")
    return ok("prefect", target, "GET /health answered 200")


# --- SMTP -----------------------------------------------------------------------------------------------------


def smtp_configured(settings: Settings, name: str) -> bool:
    """A route is in use when it has a login, a From address or a host other than the built-in default."""
    default_host = Settings.model_fields[f"smtp_{name}_host"].default
    return bool(
        getattr(settings, f"smtp_{name}_username")
        or getattr(settings, f"smtp_{name}_from")
        or getattr(settings, f"smtp_{name}_host") != default_host
    )


def smtp_context(settings: Settings) -> ssl.SSLContext:
    """The system CAs plus SMTP_CA_FILE (the sandbox sink's certificate), as the sender uses."""
    context = ssl.create_default_context()
    if settings.smtp_ca_file:
        context.load_verify_locations(cafile=str(settings.smtp_ca_file))
    return context


def check_smtp(route: SmtpRoute, context: ssl.SSLContext, timeout: float) -> CheckResult:
    """Connect, EHLO, STARTTLS / implicit TLS and AUTH as configured, then QUIT (SmtpMailer.check): no mail."""
    from leadgen.errors import RouteUnavailable
    from leadgen.outreach.mailer import SmtpMailer

    target = f"{route.name} {route.host}:{route.port}"
    bounded = route.with_timeout(timeout)
    try:
        SmtpMailer(bounded, ssl_context=context).check()
    except RouteUnavailable as exc:
        cause = exc.__cause__
        if isinstance(cause, smtplib.SMTPAuthenticationError):
            return fail("smtp", target, f"login refused ({cause.smtp_code}) for {route.username}")
        detail = str(cause) if cause is not None else str(exc)
        # smtplib reports a banner that never comes as SMTPServerDisconnected("...: timed out")
        if isinstance(cause, TimeoutError) or str(cause).endswith("timed out"):
            detail = f"no answer within {bounded.timeout:g}s"
        return fail("smtp", target, f"{type(cause).__name__ if cause else 'error'}: {detail or 'failed'}")
    steps = {"starttls": "EHLO, STARTTLS", "ssl": "TLS, EHLO", "none": "EHLO (no TLS)"}[route.security]
    login = ", login" if route.username else ""
    return ok("smtp", target, f"{steps}{login}, QUIT; no mail sent")


# --- Yandex ---------------------------------------------------------------------------------------------------


def yandex_source(settings: Settings) -> str | None:
    """Which credential the client would use (the order of credentials_from_settings), or None."""
    if settings.yandex_cloud_sa_key_file:
        return "service-account key file"
    if settings.yandex_cloud_sa_key_json:
        return "service-account key (JSON)"
    if settings.yandex_cloud_iam_token and settings.yandex_cloud_iam_token.get_secret_value():
        return "static IAM token"
    if settings.yandex_api_key and settings.yandex_api_key.get_secret_value():
        return "API key"
    return None


def check_yandex(settings: Settings, timeout: float) -> CheckResult:
    """A service-account key is exchanged for an IAM token; a static token or an API key is only present."""
    source = yandex_source(settings)
    if source is None:
        return skipped("yandex", "credentials", "no Yandex credentials set (searches cannot run)")
    target = source
    if not settings.yandex_folder_id:
        return fail("yandex", target, "YANDEX_FOLDER_ID is not set (every search names the folder)")
    if not source.startswith("service-account"):
        return ok("yandex", target, f"{source} set for folder {settings.yandex_folder_id} (checked on use)")
    return asyncio.run(_exchange(settings, target, timeout))


async def _exchange(settings: Settings, target: str, timeout: float) -> CheckResult:
    import httpx

    from leadgen.errors import LeadgenError
    from leadgen.yandex.auth import IamTokenCredentials, credentials_from_settings

    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            credentials = credentials_from_settings(settings, http=http)
            if isinstance(credentials, IamTokenCredentials):  # always, for a service-account key
                await asyncio.wait_for(credentials.token(), timeout)
    except TimeoutError:
        return fail("yandex", target, f"IAM token exchange: no answer within {timeout:g}s")
    except LeadgenError as exc:
        return fail("yandex", target, str(exc))
    return ok("yandex", f"{target} -> {api_target(settings.yandex_iam_url)}", "IAM token obtained")


# --- IMAP -----------------------------------------------------------------------------------------------------


def check_imap(route: ImapRoute, timeout: float) -> CheckResult:
    """Log in and select the route's folder read-only (ImapMailbox), then log out."""
    from leadgen.errors import LeadgenError
    from leadgen.mailbox.imap import ImapMailbox

    target = f"{route.name} {route.host}:{route.port} {route.folder}"
    bounded = route.with_timeout(timeout)
    try:
        with ImapMailbox(bounded) as box:
            exists = box.exists
    except LeadgenError as exc:
        return fail("imap", target, str(exc))
    return ok("imap", target, f"logged in as {route.username}, selected read-only ({exists} messages)")


# --- plan and run ---------------------------------------------------------------------------------------------


def plan_checks(
    settings: Settings,
    *,
    prefect_api_url: str | None,
    only: Iterable[str] = (),
) -> list[Check]:
    """Every check for these settings (or only the named groups); unconfigured routes become skipped rows."""
    wanted = set(only) or set(CHECK_NAMES)
    checks: list[Check] = []

    def add(name: str, target: str, run: Callable[[float], CheckResult]) -> None:
        if name in wanted:
            checks.append(Check(name, target, run))

    url = settings.database_url
    add("database", database_target(url), lambda t: check_database(url, t))
    add("database", database_target(url), lambda t: check_schema(url, t))
    add("prefect", prefect_api_url or "PREFECT_API_URL", lambda t: check_prefect(prefect_api_url, t))
    context = smtp_context(settings) if "smtp" in wanted else None
    for name in ROUTE_NAMES:
        route = settings.smtp_route(name)
        if smtp_configured(settings, name):
            add("smtp", name, lambda t, r=route: check_smtp(r, context, t))  # type: ignore[misc,arg-type]
        else:
            why = f"not configured (SMTP_{name.upper()}_HOST / _USERNAME unset)"
            add("smtp", name, lambda t, n=name, w=why: skipped("smtp", n, w))  # type: ignore[misc]
    add("yandex", "credentials", lambda t: check_yandex(settings, t))
    for name in ROUTE_NAMES:
        imap = settings.imap_route(name)
        if imap.configured:
            add("imap", name, lambda t, r=imap: check_imap(r, t))  # type: ignore[misc]
        else:
            why = f"not configured (IMAP_{name.upper()}_HOST, _USERNAME, _PASSWORD)"
            add("imap", name, lambda t, n=name, w=why: skipped("imap", n, w))  # type: ignore[misc]
    return checks


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold (SecretStr fields, the database password), to scrub from the report."""
    values = [
        value.get_secret_value()
        for name in Settings.model_fields
        if isinstance(value := getattr(settings, name), SecretStr) and value.get_secret_value()
    ]
    try:
        from sqlalchemy.engine import make_url

        password = make_url(settings.database_url).password
    except Exception:
        password = None
    if password:
        values.append(str(password))
    return values


def redact(result: CheckResult, secrets: Sequence[str]) -> CheckResult:
    """The result on one line with every secret value replaced by ***."""
    fields = []
    for value in (result.target, result.detail):
        text = " ".join(value.split())
        for secret in sorted(secrets, key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        fields.append(text)
    return CheckResult(result.check, fields[0], result.status, fields[1])


def run_checks(checks: Sequence[Check], *, timeout: float, secrets: Sequence[str] = ()) -> list[CheckResult]:
    """Run the checks side by side, each in a daemon thread given `timeout`; one that has not returned a
    second after it counts as failed (the thread is left behind, the command returns)."""
    results: list[CheckResult | None] = [None] * len(checks)

    def work(index: int, check: Check) -> None:
        try:
            results[index] = check.run(timeout)
        except Exception as exc:  # a check's bug or an unexpected error is a failed row, not a traceback
            first = (str(exc).strip().splitlines() or [""])[0]
            results[index] = fail(check.name, check.target, f"{type(exc).__name__}: {first}")

    threads = [
        threading.Thread(target=work, args=(i, c), name=f"health-{c.name}", daemon=True)
        for i, c in enumerate(checks)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + 1.0  # all started together: one deadline bounds the whole run
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    out = []
    for check, result in zip(checks, results, strict=True):
        row = result or fail(check.name, check.target, f"no answer within {timeout:g}s")
        out.append(redact(row, secrets))
    return out


def failed(results: Sequence[CheckResult]) -> bool:
    return any(r.status == "fail" for r in results)
