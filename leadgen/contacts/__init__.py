"""Contact enrichment: pure extraction of emails/phones from pages, a polite crawler, storage of results."""

from leadgen.contacts.crawler import Crawler, Fetched, PageOutcome, SiteCrawl
from leadgen.contacts.enrich import CompanyOutcome, EnrichReport, enrich_companies
from leadgen.contacts.extract import Contact, Link, PageAnalysis, analyse_page, extract_contacts
from leadgen.contacts.html_text import decode_html, extract_text
from leadgen.contacts.ssrf import SsrfGuard, system_resolver

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
