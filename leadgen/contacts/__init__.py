"""Contact enrichment: pure extraction of emails/phones from pages, a polite crawler, storage of results.

The names below are imported on first use (PEP 562), so `import leadgen.contacts.crawler` or `.extract` does not
load the database stack that `enrich_companies` needs (a crawl or extraction process stays ~30 MB smaller).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leadgen.contacts.crawler import Crawler, Fetched, PageOutcome, SiteCrawl
    from leadgen.contacts.enrich import CompanyOutcome, EnrichReport, enrich_companies
    from leadgen.contacts.extract import Contact, Link, PageAnalysis, analyse_page, extract_contacts
    from leadgen.contacts.html_text import decode_html, extract_text
    from leadgen.contacts.ssrf import SsrfGuard, system_resolver

_HOMES = {
    "leadgen.contacts.crawler": ("Crawler", "Fetched", "PageOutcome", "SiteCrawl"),
    "leadgen.contacts.enrich": ("CompanyOutcome", "EnrichReport", "enrich_companies"),
    "leadgen.contacts.extract": ("Contact", "Link", "PageAnalysis", "analyse_page", "extract_contacts"),
    "leadgen.contacts.html_text": ("decode_html", "extract_text"),
    "leadgen.contacts.ssrf": ("SsrfGuard", "system_resolver"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CompanyOutcome",
    "Contact",
    "Crawler",
    "EnrichReport",
    "Fetched",
    "Link",
    "PageAnalysis",
    "PageOutcome",
    "SiteCrawl",
    "SsrfGuard",
    "analyse_page",
    "decode_html",
    "enrich_companies",
    "extract_contacts",
    "extract_text",
    "system_resolver",
]
