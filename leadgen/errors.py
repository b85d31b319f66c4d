"""The leadgen exception tree; callers catch these, never a dependency's exceptions.

    LeadgenError
    ├── ConfigurationError        bad or missing settings (CLI prints one line, exits 2)
    │   └── NicheInputError       NICHES_INPUT (CSV or Google Sheet) cannot be opened, read or written back
    ├── DatabaseUnavailable       the database cannot be reached or is not migrated
    ├── SearchError               Yandex Search API and SERP handling
    ├── CrawlError                fetching company sites
    └── OutreachError             drafting, routing and sending email
        ├── OfferInvalid          the offer file is missing or malformed
        ├── DraftRejected         an LLM draft failed parsing or guardrails (composer falls back)
        ├── RouteUnavailable      an SMTP route cannot be connected or authenticated (sender tries the fallback)
        └── SmtpSendError         the server refused or dropped one message
            ├── SmtpTemporaryError   4xx or disconnect: retried later with backoff
            └── SmtpPermanentError   5xx: the row fails; "user unknown" suppresses the address

Stage issues add their leaves beneath the matching branch (for example `NightWindowViolation(SearchError)`).
"""

from __future__ import annotations


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


class DraftRejected(OutreachError):
    """Raised inside `leadgen.outreach.composer` when an LLM answer is unusable; caught there -> fallback."""


class RouteUnavailable(OutreachError):
    """Raised by `SmtpMailer` when a route cannot be connected or authenticated; `send_queued` tries the fallback."""


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
