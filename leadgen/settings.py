"""One typed Settings object, read from the environment and `.env`; built once at the edge and passed down."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SQLITE_DEFAULT_URL = "sqlite:///./leadgen.db"
WINDOW_RE = re.compile(r"\s*(?P<start>\d{2}:\d{2})\s*-\s*(?P<end>\d{2}:\d{2})\s*")

SmtpSecurity = Literal["starttls", "ssl", "none"]
ImapSecurity = Literal["ssl", "starttls", "plain"]
RouteName = Literal["yandex", "gmail"]

CommaList = Annotated[list[str], NoDecode]


def _split_commas(value: Any) -> Any:
    """Accept `a,b,c`, a JSON list or an actual list for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def parse_window(value: str) -> tuple[time, time]:
    """Parse `HH:MM-HH:MM` into (start, end); the end minute is inclusive (00:00-07:59 ends at 07:59:59)."""
    match = WINDOW_RE.fullmatch(value.strip())
    if not match:
        raise ValueError(f"expected a window like 00:00-07:59, got {value!r}")
    try:
        return time.fromisoformat(match["start"]), time.fromisoformat(match["end"])
    except ValueError as exc:
        raise ValueError(f"expected a window like 00:00-07:59, got {value!r}") from exc


WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Settings that must satisfy low <= high.
MIN_MAX_PAIRS: tuple[tuple[str, str], ...] = (("outreach_body_min_chars", "outreach_body_max_chars"),)
# Yandex bills deferred requests created 00:00:00-07:59:59 Moscow time at the night rate.
NIGHT_RATE_HOURS = "00:00-07:59"
_MSK = "Europe/Moscow"


def parse_weekdays(value: list[str]) -> list[str]:
    """`mon`..`sun` (or full English names, any case) as three-letter names; unknown or no days are an error."""
    days: list[str] = []
    for item in value:
        key = item.strip().lower()
        match = next((d for d in WEEKDAY_NAMES if key in (d, d[:3])), None)
        if match is None:
            raise ValueError(f"unknown weekday {item!r}: use mon, tue, wed, thu, fri, sat, sun")
        days.append(match[:3])
    if not days:
        raise ValueError("no weekdays: at least one of mon..sun is needed, or nothing is ever sent")
    return list(dict.fromkeys(days))


def daytime_minutes(window: str, zone: str) -> str | None:
    """The first local minute of `window` in `zone` that falls outside NIGHT_RATE_HOURS in Moscow (checked on a
    winter and a summer day, so DST is covered), as `HH:MM`, or None when the whole window is night-rate."""
    start, end = parse_window(window)
    first, last = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    minutes = list(range(first, last + 1)) if last >= first else [*range(first, 1440), *range(0, last + 1)]
    local, msk = ZoneInfo(zone), ZoneInfo(_MSK)
    for day in (date(2026, 1, 15), date(2026, 7, 15)):
        midnight = datetime.combine(day, time(0), tzinfo=local)
        for minute in minutes:
            moment = (midnight + timedelta(minutes=minute)).astimezone(msk)
            if moment.hour >= 8:
                return moment.strftime("%H:%M")
    return None


def check_database_url(value: str) -> str:
    """`value` when it is a URL of a supported database; the error never repeats the URL (it may hold a password)."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        raise ValueError(f"not a database URL; {SUPPORTED_DATABASES}")
    if scheme.lower() not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise ValueError(f"unsupported database scheme {scheme!r}; {SUPPORTED_DATABASES}")
    netloc = rest.split("/", 1)[0]
    if netloc.count("@") > 1:
        raise ValueError(
            "the user name or password holds an unencoded '@': write it as %40 (the URL is not shown)"
        )
    return value


SUPPORTED_DATABASES = "supported: sqlite:///path/to/file.db, postgresql+psycopg://user:password@host/db"


class SmtpRoute:
    """Connection details of one SMTP route (a value object; the password stays a SecretStr)."""

    __slots__ = (
        "data_timeout",
        "from_address",
        "host",
        "name",
        "password",
        "port",
        "security",
        "timeout",
        "username",
    )

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int,
        security: SmtpSecurity,
        username: str | None,
        password: SecretStr | None,
        from_address: str | None,
        timeout: float,
        data_timeout: float = 600.0,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.from_address = from_address
        self.timeout = timeout
        self.data_timeout = data_timeout

    def with_timeout(self, seconds: float) -> SmtpRoute:
        """This route with its timeout capped at `seconds` (a health check must not wait longer)."""
        route = copy.copy(self)
        route.timeout = min(self.timeout, seconds)
        return route

    def __repr__(self) -> str:
        return (
            f"SmtpRoute(name={self.name!r}, host={self.host!r}, port={self.port}, security={self.security!r})"
        )


USUAL_SENT_FOLDERS: dict[str, tuple[str, ...]] = {
    "gmail": ("[Gmail]/Sent Mail", "[Google Mail]/Sent Mail"),
    "yandex": ("Sent", "Отправленные"),
}
"""A route's sent folder when IMAP_<ROUTE>_SENT_FOLDER is empty and no folder has the \\Sent SPECIAL-USE flag."""


@dataclass(frozen=True, slots=True)
class SentCopies:
    """A route's mailbox as a record of what its SMTP server accepted (IMAP_<ROUTE>_SENT_*)."""

    route: ImapRoute
    folder: str | None  # None: the folder flagged \\Sent (RFC 6154), else the first of `usual` that exists
    usual: tuple[str, ...]
    reliable: bool  # every accepted message gets a copy: no copy after the delay means not sent


class ImapRoute:
    """The IMAP mailbox of one sending route (a value object; the password stays a SecretStr)."""

    __slots__ = ("ca_file", "folder", "host", "name", "password", "port", "security", "timeout", "username")

    def __init__(
        self,
        *,
        name: str,
        host: str | None,
        port: int,
        security: ImapSecurity,
        username: str | None,
        password: SecretStr | None,
        folder: str,
        timeout: float,
        ca_file: Path | None,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.folder = folder
        self.timeout = timeout
        self.ca_file = ca_file

    def with_timeout(self, seconds: float) -> ImapRoute:
        """This route with its timeout capped at `seconds` (a health check must not wait longer)."""
        route = copy.copy(self)
        route.timeout = min(self.timeout, seconds)
        return route

    @property
    def configured(self) -> bool:
        """A mailbox is read only when its host, user name and password are all set."""
        return bool(self.host and self.username and self.password and self.password.get_secret_value())

    @property
    def mailbox(self) -> str:
        """The mailbox's key in the database (cursor, inbound messages): the route's name. Pointing a route at
        another account is safe: the new folder's UIDVALIDITY differs, so it is read from UID 1."""
        return self.name

    def __repr__(self) -> str:
        return (
            f"ImapRoute(name={self.name!r}, host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"folder={self.folder!r})"
        )


class Settings(BaseSettings):
    """Every knob of leadgen. Field names map to upper-case environment variables (see .env.example)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    # --- core -------------------------------------------------------------------------------------------
    database_url: str = Field(SQLITE_DEFAULT_URL, description="SQLAlchemy URL of the pipeline database")
    app_timezone: str = Field("Europe/Moscow", description="IANA zone for day boundaries and windows")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines of the CLI and the flow runs: text, or one JSON object per line"
    )
    data_dir: Path = Field(Path("./data"), description="Where exports, .eml files and caches are written")

    # --- yandex search api ------------------------------------------------------------------------------
    yandex_folder_id: str | None = None
    yandex_cloud_sa_key_file: Path | None = None
    yandex_cloud_sa_key_json: SecretStr | None = None
    yandex_cloud_iam_token: SecretStr | None = None
    yandex_api_key: SecretStr | None = None
    yandex_search_api_url: str = "https://searchapi.api.cloud.yandex.net"
    yandex_operation_api_url: str = "https://operation.api.cloud.yandex.net"
    yandex_iam_url: str = "https://iam.api.cloud.yandex.net/iam/v1/tokens"
    yandex_search_type: str = "SEARCH_TYPE_RU"
    yandex_groups_on_page: int = Field(50, ge=1, le=100)
    yandex_docs_in_group: int = Field(1, ge=1, le=3)
    yandex_max_passages: int = Field(2, ge=1, le=5)
    yandex_rps: int = Field(10, ge=1, description="Requests per second (create and poll)")
    yandex_rpm: int = Field(600, ge=1, description="Requests per minute")
    yandex_rph: int = Field(35000, ge=1, description="Requests per hour")
    yandex_timeout_seconds: float = Field(30.0, gt=0)
    yandex_poll_interval_seconds: int = Field(
        300, ge=1, description="Minimum time between polls of one operation"
    )
    yandex_operation_sla_hours: float = Field(
        12.0, gt=0, description="Operations not done by then are expired"
    )
    night_window: str = Field("00:00-07:59", description="Local window in which operations may be created")
    yandex_max_retries: int = Field(
        3, ge=0, description="In-call retries of one API request after 429 / 5xx / timeout (backoff)"
    )
    yandex_backoff_seconds: float = Field(1.0, ge=0, description="First backoff delay; doubles per retry")
    yandex_max_attempts: int = Field(
        5, ge=1, description="Runs that may try to submit one query before it is marked failed"
    )

    # --- planning ---------------------------------------------------------------------------------------
    niches_input: str | None = Field(
        None, description="Google Sheet id/URL or a CSV path with NICHES_INPUT rows"
    )
    niches_worksheet: str = "NICHES_INPUT"
    google_service_account_file: Path | None = None
    google_service_account_json: SecretStr | None = None
    planning_max_queries_per_niche: int = Field(6, ge=1, le=6)
    planning_spacing_seconds: int = Field(10, ge=0)
    planning_triggers: CommaList = Field(
        default_factory=lambda: ["контакты", "официальный сайт", "телефон", "email", "заказать", "цены"]
    )
    planning_minus_domains: CommaList = Field(default_factory=list)
    defaults_min_no_files: bool = Field(
        True, description="Append -filetype minus operators (seed DEFAULTS_min_no_files)"
    )
    planning_language: str = Field(
        "ru", description="ISO 639-1 code for the lang: operator of every query; empty turns it off"
    )

    # --- companies / dedupe -----------------------------------------------------------------------------
    directory_domains_extra: CommaList = Field(default_factory=list)
    dedupe_name_threshold: int = Field(92, ge=50, le=100, description="rapidfuzz ratio for name-only matches")

    # --- directory recognition (issue 17) ---------------------------------------------------------------
    directory_domains_file: Path | None = Field(
        None, description="Extra directory list: `domain [category [source]]` per line, # comments"
    )
    directory_heuristics: bool = Field(True, description="Recognise directories by URL, title, snippet, host")
    directory_cross_query_min_queries: int = Field(
        6, ge=2, description="A domain kept in at least this many distinct queries ..."
    )
    directory_cross_query_min_niches: int = Field(4, ge=2, description="... of at least this many niches ...")
    directory_cross_query_min_regions: int = Field(1, ge=1, description="... and regions is a directory")

    # --- crawler ----------------------------------------------------------------------------------------
    crawl_concurrency: int = Field(32, ge=1)
    crawl_per_host_delay_seconds: float = Field(1.0, ge=0)
    crawl_max_pages_per_company: int = Field(6, ge=1)
    crawl_timeout_seconds: float = Field(15.0, gt=0)
    crawl_max_redirects: int = Field(5, ge=0)
    crawl_max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    crawl_user_agent: str = "leadgen/0.1 (+contact: set CRAWL_USER_AGENT)"
    crawl_proxy_url: str | None = Field(None, description="Route every fetch through this proxy (sandbox)")
    crawl_allow_private_hosts: CommaList = Field(
        default_factory=list, description="Hosts/CIDRs exempt from the SSRF guard (sandbox only)"
    )
    crawl_respect_robots: bool = True

    # --- contacts: cap per company (issue 22, hostile pages) ----------------------------------------------
    crawl_max_contacts_per_company: int = Field(
        200,
        ge=1,
        description="Contacts stored per company per crawl at most; the best kept, the rest counted",
    )

    # --- contacts: robots Crawl-delay cap, recipient preference (issue 17) ------------------------------
    crawl_max_crawl_delay_seconds: float = Field(
        10.0, ge=0, description="robots.txt Crawl-delay is honoured up to this many seconds per request"
    )
    outreach_recipient_preference: str = Field(
        "director,sales,info,office,hello,other,support,wholesale,hr,accounting,robot",
        description="Ordered, comma-separated mailbox groups or local-part globs (leadgen/contacts/preference.py)",
    )

    # --- outreach ---------------------------------------------------------------------------------------
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_temperature: float = Field(0.4, ge=0, le=2)
    openai_timeout_seconds: float = Field(30.0, gt=0)
    outreach_offer_file: Path = Path("offer.toml")
    outreach_campaign: str = "default"
    outreach_language: str = "ru"
    outreach_daily_cap: int = Field(100, ge=0)
    outreach_send_window: str = Field("09:00-18:00", description="Local window for sending")
    outreach_send_weekdays: CommaList = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    outreach_spacing_seconds: float = Field(30.0, ge=0)
    outreach_spacing_jitter_seconds: float = Field(15.0, ge=0)
    outreach_max_attempts: int = Field(3, ge=1)
    outreach_dry_run_dir: Path = Path("./data/outbox")
    outreach_unsubscribe_mailto: str | None = None
    outreach_subject_max_chars: int = Field(120, ge=20, description="Guardrail: longest subject accepted")
    outreach_body_min_chars: int = Field(200, ge=0, description="Guardrail: shortest body accepted")
    outreach_body_max_chars: int = Field(2000, ge=200, description="Guardrail: longest body accepted")
    outreach_retry_backoff_seconds: float = Field(
        600.0, ge=0, description="First retry delay after a temporary SMTP failure; doubles per attempt"
    )
    outreach_stale_sending_minutes: float = Field(
        15.0, gt=0, description="A row left in `sending` this long is marked `unknown` (never resent)"
    )
    outreach_settle_after_minutes: float = Field(
        30.0, ge=0, description="An `unknown` row absent from a reliable sent folder this long is requeued"
    )

    # --- outreach loop (what bounces and replies do) ----------------------------------------------------
    outreach_soft_bounce_limit: int = Field(
        3,
        ge=1,
        description="Soft bounces of one address after which it is suppressed (opt-out, source bounce)",
    )

    # --- one-click unsubscribe (RFC 8058; leadgen/unsubscribe) ------------------------------------------
    unsubscribe_base_url: str | None = Field(
        None,
        description="Public root of `leadgen unsubscribe serve`: https://…, or http://127.0.0.1:… (sandbox)",
    )
    unsubscribe_secret: SecretStr | None = Field(
        None, description="Signs unsubscribe tokens; at least 32 characters, never logged"
    )
    outreach_unsubscribe_url: str | None = Field(
        None, description="Replaced by UNSUBSCRIBE_BASE_URL and UNSUBSCRIBE_SECRET; setting it is an error"
    )

    @field_validator("unsubscribe_base_url")
    @classmethod
    def _unsubscribe_base_url(cls, value: str | None) -> str | None:
        """https with a host, no query or fragment; plain http only for loopback hosts (the sandbox)."""
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        loopback = parts.hostname in {"localhost", "::1"} or (parts.hostname or "").startswith("127.")
        if parts.scheme not in {"https", "http"} or not parts.hostname:
            raise ValueError(f"expected an https URL like https://unsubscribe.example.ru, got {value!r}")
        if parts.scheme == "http" and not loopback:
            raise ValueError(
                "must be https (RFC 8058 one-click needs an https URI); http only for loopback hosts"
            )
        if not value.isascii() or any(c.isspace() or c in '<>,"' for c in value.strip()):
            raise ValueError("must be plain ASCII without spaces, <, > or commas (an IDN host in punycode)")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must be a plain base URL without query, fragment or credentials")
        return value.strip().rstrip("/")

    @field_validator("outreach_unsubscribe_url")
    @classmethod
    def _old_unsubscribe_url(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            raise ValueError(
                "OUTREACH_UNSUBSCRIBE_URL is replaced: set UNSUBSCRIBE_BASE_URL to the public https root of "
                "`leadgen unsubscribe serve` and UNSUBSCRIBE_SECRET (see docs/compliance.md), then remove it"
            )
        return None

    # --- per-route daily caps (under OUTREACH_DAILY_CAP) ------------------------------------------------
    outreach_daily_cap_yandex: int | None = Field(
        None, ge=0, description="Messages a day through the yandex route (default: OUTREACH_DAILY_CAP)"
    )
    outreach_daily_cap_gmail: int | None = Field(
        None, ge=0, description="Messages a day through the gmail route (default: OUTREACH_DAILY_CAP)"
    )

    @field_validator("outreach_daily_cap_yandex", "outreach_daily_cap_gmail", mode="before")
    @classmethod
    def _empty_route_cap(cls, value: object) -> object:
        """An empty OUTREACH_DAILY_CAP_<ROUTE>= means "the global cap"."""
        return None if isinstance(value, str) and not value.strip() else value

    # --- routing ----------------------------------------------------------------------------------------
    routing_force_yandex_domains: CommaList = Field(default_factory=list)
    routing_force_gmail_domains: CommaList = Field(default_factory=list)
    routing_default_route: RouteName = "gmail"
    routing_fallback_route: RouteName = "yandex"
    routing_mx_cache_ttl_seconds: int = Field(3600, ge=0)
    routing_dns_timeout_seconds: float = Field(5.0, gt=0)
    routing_mx_lookup: bool = Field(
        True, description="Look up MX records (off in the sandbox: every domain is UNKNOWN -> default route)"
    )

    # --- smtp, one block per route ----------------------------------------------------------------------
    smtp_yandex_host: str = "smtp.yandex.ru"
    smtp_yandex_port: int = 587
    smtp_yandex_security: SmtpSecurity = "starttls"
    smtp_yandex_username: str | None = None
    smtp_yandex_password: SecretStr | None = None
    smtp_yandex_from: str | None = None
    smtp_gmail_host: str = "smtp.gmail.com"
    smtp_gmail_port: int = 587
    smtp_gmail_security: SmtpSecurity = "starttls"
    smtp_gmail_username: str | None = None
    smtp_gmail_password: SecretStr | None = None
    smtp_gmail_from: str | None = None
    smtp_timeout_seconds: float = Field(30.0, gt=0)
    # --- smtp end-of-data timeout (issue 23) ---
    smtp_data_timeout_seconds: float = Field(
        600.0, gt=0, description="Wait for the reply to the end of a message (RFC 5321 4.5.3.2.6: 10 minutes)"
    )
    smtp_ca_file: Path | None = Field(None, description="Extra CA bundle trusted for SMTP TLS (sandbox sink)")

    # --- imap: each route's mailbox, read by `leadgen mailbox sync` ----------------------------------------
    imap_yandex_host: str | None = "imap.yandex.ru"
    imap_yandex_port: int = Field(993, ge=1, le=65535)
    imap_yandex_security: ImapSecurity = "ssl"
    imap_yandex_username: str | None = None
    imap_yandex_password: SecretStr | None = None
    imap_yandex_folder: str = "INBOX"
    imap_gmail_host: str | None = "imap.gmail.com"
    imap_gmail_port: int = Field(993, ge=1, le=65535)
    imap_gmail_security: ImapSecurity = "ssl"
    imap_gmail_username: str | None = None
    imap_gmail_password: SecretStr | None = None
    imap_gmail_folder: str = "INBOX"
    # --- sent copies: where a route's mailbox keeps submitted mail, settling `unknown` rows (issue 23) ------
    imap_yandex_sent_copies: bool = Field(False, description="Yandex keeps sent copies (its setting is on)")
    imap_yandex_sent_folder: str | None = Field(
        None, description="Empty: the \\Sent folder, Sent, Отправленные"
    )
    imap_yandex_sent_copy_reliable: bool = Field(False, description="No copy after the delay: not sent")
    imap_gmail_sent_copies: bool = Field(True, description="Gmail keeps a copy of every submitted message")
    imap_gmail_sent_folder: str | None = Field(
        None, description="Empty: the \\Sent folder, [Gmail]/Sent Mail"
    )
    imap_gmail_sent_copy_reliable: bool = Field(False, description="No copy after the delay: not sent")
    imap_timeout_seconds: float = Field(30.0, gt=0, description="Connect and read timeout of one IMAP call")
    imap_batch_size: int = Field(50, ge=1, le=1000, description="Messages fetched per IMAP FETCH")
    imap_ca_file: Path | None = Field(None, description="Extra CA bundle trusted for IMAP TLS (sandbox)")

    # --- health (`leadgen health`, issue 18) ------------------------------------------------------------
    health_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Longest wait of one `leadgen health` check before it counts as failed",
    )

    # --- alerts: Prefect automations created by `leadgen infra bootstrap` (issues 18, 23) --------------------
    alert_webhook_url: SecretStr | None = Field(
        None, description="URL the alerts are POSTed to as JSON {subject, body} (a chat or incident webhook)"
    )
    alert_email_to: CommaList = Field(
        default_factory=list,
        description="Addresses (comma-separated) alerts are mailed to by ALERT_EMAIL_ROUTE",
    )
    alert_email_route: RouteName = Field(
        "yandex", description="SMTP route (SMTP_<ROUTE>_*) alert mail goes out by"
    )
    alert_bounce_rate_threshold: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Share of a day's sent messages that bounced above which an alert is sent",
    )
    alert_bounce_min_sent: int = Field(
        20, ge=1, description="Messages a day must have sent before its bounce rate can raise an alert"
    )
    alert_heartbeat_window_seconds: int = Field(
        300,
        ge=10,
        description="A running flow run with no heartbeat for this long is marked Crashed (3+ heartbeats)",
    )

    # --- prefect ----------------------------------------------------------------------------------------
    prefect_work_pool: str = "leadgen-docker"
    prefect_batch_size: int = Field(50, ge=1)
    prefect_image: str = Field("leadgen:latest", description="Image the Docker work pool runs flows in")
    prefect_docker_network: str = Field("leadgen", description="Docker network of flow-run containers")
    prefect_pool_concurrency: int = Field(4, ge=1, description="Flow runs the work pool runs at once")
    prefect_email_burst: int = Field(3, ge=1, description="Slots of the email-daily limit free at once")

    # --- task cache (issue 18) --------------------------------------------------------------------------
    cache_dir: Path | None = Field(
        None,
        description="Persisted results of cached tasks (LLM drafts, MX answers); default DATA_DIR/task-cache, "
        "which must be on the volume every flow-run container mounts",
    )
    cache_llm_draft_days: int = Field(
        30, ge=1, le=3650, description="How long a cached LLM answer is reused for the same request"
    )

    @model_validator(mode="after")
    def _reliable_needs_copies(self) -> Settings:
        for name in ("yandex", "gmail"):
            if getattr(self, f"imap_{name}_sent_copy_reliable") and not getattr(
                self, f"imap_{name}_sent_copies"
            ):
                prefix = f"IMAP_{name.upper()}_SENT"
                raise ValueError(f"{prefix}_COPY_RELIABLE=true needs {prefix}_COPIES=true")
        return self

    # --- input validation (issue 22) --------------------------------------------------------------------
    night_window_allow_daytime: bool = Field(
        False, description="Accept a NIGHT_WINDOW outside Yandex's night-rate hours (00:00-07:59 MSK)"
    )

    @field_validator(
        "planning_triggers",
        "alert_email_to",
        "planning_minus_domains",
        "directory_domains_extra",
        "crawl_allow_private_hosts",
        "outreach_send_weekdays",
        "routing_force_yandex_domains",
        "routing_force_gmail_domains",
        mode="before",
    )
    @classmethod
    def _comma_lists(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("directory_domains_file", "cache_dir", mode="before")
    @classmethod
    def _blank_path_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("alert_webhook_url", mode="before")
    @classmethod
    def _alert_webhook_url(cls, value: Any) -> Any:
        """An empty ALERT_WEBHOOK_URL= (as in .env.example) means no webhook; a set one must be http(s)."""
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and not text.strip():
            return None
        if isinstance(text, str) and not text.strip().lower().startswith(("http://", "https://")):
            raise ValueError("ALERT_WEBHOOK_URL must be an http:// or https:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        """Use psycopg 3 for plain `postgres://` / `postgresql://` URLs; refuse other schemes (issue 22)."""
        value = value.strip()
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                value = "postgresql+psycopg://" + value[len(prefix) :]
                break
        return check_database_url(value)

    @field_validator("app_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("night_window", "outreach_send_window")
    @classmethod
    def _valid_window(cls, value: str) -> str:
        parse_window(value)
        return value

    @model_validator(mode="after")
    def _one_sa_key_source(self) -> Settings:
        if self.yandex_cloud_sa_key_file and self.yandex_cloud_sa_key_json:
            raise ValueError("set YANDEX_CLOUD_SA_KEY_FILE or YANDEX_CLOUD_SA_KEY_JSON, not both")
        return self

    # --- input validation (issue 22): settings that contradict themselves fail at load, not at use ---------
    @field_validator("outreach_send_weekdays")
    @classmethod
    def _known_weekdays(cls, value: list[str]) -> list[str]:
        return parse_weekdays(value)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        for low, high in MIN_MAX_PAIRS:
            if getattr(self, low) > getattr(self, high):
                raise ValueError(
                    f"{low.upper()} ({getattr(self, low)}) is above {high.upper()} ({getattr(self, high)})"
                )
        if not self.night_window_allow_daytime:
            outside = daytime_minutes(self.night_window, self.app_timezone)
            if outside:
                raise ValueError(
                    f"NIGHT_WINDOW {self.night_window} ({self.app_timezone}) reaches {outside} MSK, outside "
                    f"Yandex's night-rate hours {NIGHT_RATE_HOURS} MSK (daytime requests cost more); "
                    "set NIGHT_WINDOW_ALLOW_DAYTIME=true to accept it"
                )
        return self

    @property
    def task_cache_dir(self) -> Path:
        """Where cached task results live: CACHE_DIR, else DATA_DIR/task-cache (absolute)."""
        return (self.cache_dir or self.data_dir / "task-cache").resolve()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.app_timezone)

    @property
    def night_window_bounds(self) -> tuple[time, time]:
        return parse_window(self.night_window)

    @property
    def send_window_bounds(self) -> tuple[time, time]:
        return parse_window(self.outreach_send_window)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def smtp_route(self, name: RouteName) -> SmtpRoute:
        """The SMTP connection details of a named route."""
        return SmtpRoute(
            name=name,
            host=getattr(self, f"smtp_{name}_host"),
            port=getattr(self, f"smtp_{name}_port"),
            security=getattr(self, f"smtp_{name}_security"),
            username=getattr(self, f"smtp_{name}_username"),
            password=getattr(self, f"smtp_{name}_password"),
            from_address=getattr(self, f"smtp_{name}_from"),
            timeout=self.smtp_timeout_seconds,
            data_timeout=self.smtp_data_timeout_seconds,
        )

    def imap_route(self, name: RouteName) -> ImapRoute:
        """The IMAP mailbox of a named route (see `ImapRoute.configured`)."""
        return ImapRoute(
            name=name,
            host=getattr(self, f"imap_{name}_host"),
            port=getattr(self, f"imap_{name}_port"),
            security=getattr(self, f"imap_{name}_security"),
            username=getattr(self, f"imap_{name}_username"),
            password=getattr(self, f"imap_{name}_password"),
            folder=getattr(self, f"imap_{name}_folder"),
            timeout=self.imap_timeout_seconds,
            ca_file=self.imap_ca_file,
        )

    def sent_copies(self, name: RouteName) -> SentCopies | None:
        """Where a route's mailbox keeps its submitted mail, or None when it keeps none or is not configured."""
        route = self.imap_route(name)
        if not getattr(self, f"imap_{name}_sent_copies") or not route.configured:
            return None
        return SentCopies(
            route=route,
            folder=getattr(self, f"imap_{name}_sent_folder") or None,
            usual=USUAL_SENT_FOLDERS.get(name, ()),
            reliable=bool(getattr(self, f"imap_{name}_sent_copy_reliable")),
        )
