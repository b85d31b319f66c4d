"""Briefs: the company and contact facts a draft is written from, taken from database rows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from leadgen.db.models import Company, Contact

SITE_TEXT_LIMIT = 3000
SNIPPET_LIMIT = 500


@dataclass(frozen=True, slots=True)
class CompanyBrief:
    """What we know about the company; `snippet` and `site_text` are untrusted text from the web."""

    company_id: int | None
    name: str
    domain: str
    niche: str = ""
    city: str = ""
    snippet: str = ""
    site_text: str = ""

    @property
    def display_name(self) -> str:
        """The name to address the company by: its name, else its domain."""
        return self.name or self.domain

    @property
    def fingerprint(self) -> str:
        payload = json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ContactBrief:
    """The recipient: an address and whether it is a role mailbox (info@, sales@)."""

    contact_id: int | None
    email: str
    is_role: bool = False


def company_brief(company: Company, /) -> CompanyBrief:
    """Brief of one company row (texts collapsed to single spaces and truncated)."""
    return CompanyBrief(
        company_id=company.id,
        name=_clean(company.name, 200),
        domain=company.canonical_domain or "",
        niche=_clean(company.niche, 200),
        city=_clean(company.city, 100),
        snippet=_clean(company.snippet, SNIPPET_LIMIT),
        site_text=_clean(company.site_text, SITE_TEXT_LIMIT),
    )


def contact_brief(contact: Contact, /, *, is_role: bool = False) -> ContactBrief:
    return ContactBrief(contact_id=contact.id, email=contact.value.strip(), is_role=is_role)


def _clean(value: str | None, limit: int) -> str:
    if not value:
        return ""
    text = " ".join(value.split())
    return text[:limit]
