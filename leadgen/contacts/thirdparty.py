"""Third-party addresses: a web studio's credit, or a site builder, CMS vendor or host that is not the company."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadgen.data import THIRD_PARTY_MAIL_DOMAINS_BY_CATEGORY
from leadgen.domains import canonical_domain, parent_domains

STUDIO_KEY = "web_studio"
"""Contact metadata flag set by extraction: the address sits in the site's "made by" credit."""
THIRD_PARTY_KEY = "third_party"
"""Contact metadata: the category of a known third-party mail domain (`site builder`, `cms vendor`, `hosting`)."""


def third_party_category(email: str, /, *, company_domain: str | None = None) -> str | None:
    """The category when the address's domain is a known site builder, CMS vendor or host, unless it is the
    company's own registrable domain; None otherwise (free mail and unknown domains included).

    >>> third_party_category("support@tilda.cc")
    'site builder'
    >>> third_party_category("info@clinic.ru", company_domain="clinic.ru") is None
    True
    """
    domain = canonical_domain(email.rpartition("@")[2], keep_subdomains=True)
    if domain is None:
        return None
    if company_domain and canonical_domain(domain) == canonical_domain(company_domain):
        return None
    for candidate in parent_domains(domain):
        for category, domains in THIRD_PARTY_MAIL_DOMAINS_BY_CATEGORY.items():
            if candidate in domains:
                return category
    return None


def third_party_reason(
    email: str, /, *, company_domain: str | None, contact_meta: Mapping[str, Any] | None
) -> str | None:
    """Why an address is not the company's own (web-studio flag, stored category, or a known domain); or None."""
    meta = contact_meta or {}
    if meta.get(STUDIO_KEY):
        return "third-party address: web studio credit on the site"
    category = meta.get(THIRD_PARTY_KEY) or third_party_category(email, company_domain=company_domain)
    if category:
        return f"third-party address: {category} ({email.rpartition('@')[2]})"
    return None
