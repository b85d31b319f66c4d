"""The leadgen exception tree; callers catch these, never a dependency's exceptions.

    LeadgenError
    ├── ConfigurationError        bad or missing settings (CLI prints one line, exits 2)
    │   └── NicheInputError       NICHES_INPUT (CSV or Google Sheet) cannot be opened, read or written back
    ├── DatabaseUnavailable       the database cannot be reached or is not migrated
    ├── SearchError               Yandex Search API and SERP handling
    ├── CrawlError                fetching company sites
    └── OutreachError             drafting, routing and sending email

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
