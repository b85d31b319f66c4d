"""The leadgen exception tree; callers catch these, never a dependency's exceptions.

    LeadgenError
    ├── ConfigurationError        bad or missing settings (CLI prints one line, exits 2)
    ├── DatabaseUnavailable       the database cannot be reached or is not migrated
    ├── SearchError               Yandex Search API and SERP handling
    ├── CrawlError                fetching company sites
    │   ├── UnsafeTarget          SSRF guard refusal (scheme, private address)
    │   ├── RobotsDisallowed      robots.txt forbids the URL
    │   └── FetchFailed           network, timeout, redirects, status, not HTML
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


# --- contacts (issue 6) ---------------------------------------------------------------------------------


class UnsafeTarget(CrawlError):
    """Raised by the crawler's SSRF guard for non-http(s) URLs and private/reserved addresses; handled per page."""


class RobotsDisallowed(CrawlError):
    """Raised by the crawler when robots.txt forbids a URL; handled per page (the page is skipped)."""


class FetchFailed(CrawlError):
    """Raised by the crawler for network errors, timeouts, redirect loops, bad statuses and non-HTML bodies;
    handled per page, and per company (status `unreachable`) when the home page cannot be fetched."""
