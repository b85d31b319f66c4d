"""The leadgen exception tree; callers catch these, never a dependency's exceptions.

    LeadgenError
    ├── ConfigurationError        bad or missing settings (CLI prints one line, exits 2)
    │   ├── NicheInputError       NICHES_INPUT (CSV or Google Sheet) cannot be opened, read or written back
    │   └── OutputUnusable        an output file would overwrite an input, or its folder is missing/unwritable
    ├── DatabaseUnavailable       the database cannot be reached or is not migrated
    ├── SearchError               Yandex Search API and SERP handling
    │   ├── AuthError             no usable credentials, or Yandex refused them (401/403)
    │   ├── NightWindowViolation  an operation would be created outside NIGHT_WINDOW
    │   ├── QuotaExceeded         HTTP 429 (RESOURCE_EXHAUSTED); retryable after `retry_after`
    │   ├── YandexUnavailable     5xx, timeouts, connection errors, unreadable bodies; retryable
    │   ├── YandexAPIError        any other 4xx, with HTTP status, gRPC code and message
    │   ├── OperationFailed       a deferred operation ended with an error or an unusable result
    │   └── SerpParseError        a SERP payload is malformed or carries a response-level <error>
    ├── CrawlError                fetching company sites
    │   ├── UnsafeTarget          SSRF guard refusal (scheme, private address)
    │   ├── RobotsDisallowed      robots.txt forbids the URL
    │   └── FetchFailed           network, timeout, redirects, status, not HTML
    ├── MailboxError              reading the routes' IMAP mailboxes (leadgen.mailbox)
    │   ├── MailboxUnavailable    connection, TLS, timeout or protocol failure; retryable
    │   └── MailboxRefused        the server refused the login, STARTTLS or the folder
    └── OutreachError             drafting, routing and sending email
        ├── OfferInvalid          the offer file is malformed or unreadable
        │   └── OfferMissing      no offer file (also a ConfigurationError: exit 2, copy offer.example.toml)
        ├── DraftRejected         an LLM draft failed parsing or guardrails (composer falls back)
        ├── RouteUnavailable      an SMTP route cannot be connected or authenticated (sender tries the fallback)
        └── SmtpSendError         the server refused or dropped one message
            ├── SmtpTemporaryError   4xx or disconnect: retried later with backoff
            ├── SmtpPermanentError   5xx: the row fails; "user unknown" suppresses the address
            └── SmtpOutcomeUnknown   lost after the message content was sent: the row is `unknown`, never resent

Stage issues add their leaves beneath the matching branch (for example `NightWindowViolation(SearchError)`).
"""

from __future__ import annotations

from datetime import datetime


class LeadgenError(Exception):
    """Root of every error leadgen raises on purpose; the CLI turns it into a one-line message."""


class ConfigurationError(LeadgenError):
    """Raised when settings are missing or contradictory; handled by the CLI (exit 2) and flow entry points."""


class NicheInputError(ConfigurationError):
    """Raised by `leadgen.planning` readers when the NICHES_INPUT CSV or Google Sheet cannot be opened, read or
    written back (missing file, unknown sheet or worksheet, no access, bad header); handled by the CLI (exit 2)
    and by the planning flow, which fails the run without touching the database."""


class DatabaseUnavailable(LeadgenError):
    """Raised by `leadgen.db` when the database URL cannot be reached; handled by the CLI (exit 1)."""


class SearchError(LeadgenError):
    """Base of Yandex Search API and SERP parsing errors; raised by `leadgen.yandex` and `leadgen.serp`."""


class CrawlError(LeadgenError):
    """Base of site crawling errors; raised by `leadgen.contacts.crawler`, handled per company."""


class OutreachError(LeadgenError):
    """Base of drafting, routing and sending errors; raised by `leadgen.outreach`, handled per message."""


class OfferInvalid(OutreachError):
    """Raised by `leadgen.outreach.offer.load_offer` for a missing or malformed offer file; the CLI prints it."""


class OfferMissing(OfferInvalid, ConfigurationError):
    """Raised by `load_offer` when OUTREACH_OFFER_FILE does not exist; a bad setting, so the CLI exits 2."""


class DraftRejected(OutreachError):
    """Raised inside `leadgen.outreach.composer` when an LLM answer is unusable; caught there -> fallback."""


class RouteUnavailable(OutreachError):
    """Raised by `SmtpMailer` when a route cannot be connected or authenticated; `send_queued` tries the fallback."""


class ClaimLost(OutreachError):
    """A claimed outbox row was taken back (crash recovery or another run) before its DATA command: not sent."""


class SmtpSendError(OutreachError):
    """Base of per-message SMTP failures raised by mailers; handled by `send_queued` per row."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SmtpTemporaryError(SmtpSendError):
    """A 4xx reply or a dropped connection; `send_queued` re-queues the row with backoff."""


class SmtpPermanentError(SmtpSendError):
    """A 5xx reply; `send_queued` fails the row and, for "user unknown", adds the address to the opt-out list."""

    @property
    def user_unknown(self) -> bool:
        """The mailbox does not exist (550 5.1.1 and its common wordings)."""
        text = str(self).lower()
        phrases = (
            "5.1.1",  # Gmail, Postfix, Rambler; 5.1.10 (Microsoft RecipientNotFound) contains it too
            "user unknown",
            "unknown user",
            "no such user",  # Yandex: "550 5.7.1 No such user!"
            "user not found",  # Mail.ru: "... is unavailable: user not found"
            "recipient not found",
            "does not exist",
            "unrouteable address",  # Exim
        )
        return self.code in (550, 551, 553) and any(p in text for p in phrases)


class SmtpOutcomeUnknown(SmtpSendError):
    """The connection was lost (or timed out) after the message content was transmitted, before the server's
    final reply: the server may have accepted it. `send_queued` marks the row `unknown` and never resends it."""


# --- Yandex Search API (raised by leadgen.yandex, handled by its submit/collect stages and the CLI) ----------


class AuthError(SearchError):
    """Raised by `leadgen.yandex.auth` and the client when credentials are missing, malformed or refused.

    Not retryable without operator action; the stages stop the run and leave queries pending, the CLI prints it.
    """


class NightWindowViolation(SearchError):
    """Raised by `YandexClient.create_search` outside NIGHT_WINDOW; `next_allowed` is the next window start.

    `submit_due_queries` checks the window first and stops the run when it closes mid-batch.
    """

    def __init__(self, message: str, *, next_allowed: datetime) -> None:
        super().__init__(message)
        self.next_allowed = next_allowed


class QuotaExceeded(SearchError):
    """Raised by the client on HTTP 429 after its own retries; `retry_after` is seconds (header or backoff).

    The stages keep the query or operation pending and reschedule it; nothing is lost.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class YandexUnavailable(SearchError):
    """Raised by the client on 5xx, timeouts, connection failures and unreadable bodies; retryable.

    The stages record the error and retry on a later run.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class YandexAPIError(SearchError):
    """Raised by the client on a 4xx other than 401/429: `status`, gRPC `code` and `message` from the body.

    Not retryable as is: the stages fail the query (400) or the operation (404) with this as the reason.
    """

    def __init__(self, message: str, *, status: int, code: int | None = None, request_id: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id


class OperationFailed(SearchError):
    """Raised by the client when an operation is done with an error, or its result cannot be decoded.

    `collect_operations` marks the operation failed and re-queues its query once.
    """

    def __init__(self, message: str, *, operation_id: str, code: int | None = None) -> None:
        super().__init__(message)
        self.operation_id = operation_id
        self.code = code


class SerpParseError(SearchError):
    """Raised by `leadgen.serp.parse_serp` (and `ingest_payload`) for malformed XML, a document that is not a
    Yandex search response, or a response-level `<error code=...>` other than 15 (no results, which is an empty
    page, not an error). `code` is the Yandex XML error code, or None when the payload itself is unusable.
    Handled by the collect stage (marks the operation failed with the message) and by the CLI (one line)."""

    QUOTA_CODES = frozenset({32, 55})
    AUTH_CODES = frozenset({31, 33, 42, 44, 48})

    def __init__(self, code: int | None, message: str) -> None:
        self.code = code
        self.message = message
        prefix = f"Yandex XML error {code}: " if code is not None else "malformed SERP payload: "
        super().__init__(prefix + message)

    @property
    def kind(self) -> str:
        """`malformed`, `quota` (32, 55), `auth` (31, 33, 42, 44, 48) or `request` (any other code)."""
        if self.code is None:
            return "malformed"
        if self.code in self.QUOTA_CODES:
            return "quota"
        if self.code in self.AUTH_CODES:
            return "auth"
        return "request"


# --- contacts (issue 6) ---------------------------------------------------------------------------------


class UnsafeTarget(CrawlError):
    """Raised by the crawler's SSRF guard for non-http(s) URLs and private/reserved addresses; handled per page."""


class RobotsDisallowed(CrawlError):
    """Raised by the crawler when robots.txt forbids a URL; handled per page (the page is skipped)."""


class FetchFailed(CrawlError):
    """Raised by the crawler for network errors, timeouts, redirect loops, bad statuses and non-HTML bodies;
    handled per page, and per company (status `unreachable`) when the home page cannot be fetched."""


# --- mailbox (issue 16) ----------------------------------------------------------------------------------


class MailboxError(LeadgenError):
    """Base of IMAP mailbox errors; raised by `leadgen.mailbox.imap`, handled per route by `sync_all`."""


class MailboxUnavailable(MailboxError):
    """Raised by `leadgen.mailbox.imap` when the server cannot be reached, TLS fails, a call times out or the
    server answers out of protocol; the sync of that route stops (its cursor keeps what was read), retryable."""


class MailboxRefused(MailboxError):
    """Raised by `leadgen.mailbox.imap` when the server refuses the credentials, lacks STARTTLS or cannot
    select the folder; handled per route by `sync_all`, not retried (the settings must change)."""


# --- outputs (issue 22) ---------------------------------------------------------------------------------


class OutputUnusable(ConfigurationError):
    """Raised by `leadgen.outputs.check_output` before anything is written or changed: the output path is one
    of the inputs, a folder, in a missing folder, or not writable; the CLI prints it (exit 2)."""
