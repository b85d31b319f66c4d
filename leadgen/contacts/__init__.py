"""Contact enrichment: pure extraction of emails/phones from pages, a polite crawler, storage of results."""

from leadgen.contacts.extract import Contact, Link, PageAnalysis, analyse_page, extract_contacts
from leadgen.contacts.html_text import decode_html, extract_text

__all__ = [
    "Contact",
    "Link",
    "PageAnalysis",
    "analyse_page",
    "decode_html",
    "extract_contacts",
    "extract_text",
]
