"""The leadgen exception tree; callers catch these, never a dependency's exceptions.

    LeadgenError
    ├── ConfigurationError        bad or missing settings (CLI prints one line, exits 2)
    ├── DatabaseUnavailable       the database cannot be reached or is not migrated
    ├── SearchError               Yandex Search API and SERP handling
    │   └── SerpParseError        a SERP payload is malformed or carries a response-level <error>
    ├── CrawlError                fetching company sites
    └── OutreachError             drafting, routing and sending email

Stage issues add their leaves beneath the matching branch (for example `NightWindowViolation(SearchError)`).
"""

from __future__ import annotations


class LeadgenError(Exception):
    """Root of every error leadgen raises on purpose; the CLI turns it into a one-line message."""


class ConfigurationError(LeadgenError):
    """Raised when settings are missing or contradictory; handled by the CLI (exit 2) and flow entry points."""


class DatabaseUnavailable(LeadgenError):
    """Raised by `leadgen.db` when the database URL cannot be reached; handled by the CLI (exit 1)."""


class SearchError(LeadgenError):
    """Base of Yandex Search API and SERP parsing errors; raised by `leadgen.yandex` and `leadgen.serp`."""


class CrawlError(LeadgenError):
    """Base of site crawling errors; raised by `leadgen.contacts.crawler`, handled per company."""


class OutreachError(LeadgenError):
    """Base of drafting, routing and sending errors; raised by `leadgen.outreach`, handled per message."""


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
