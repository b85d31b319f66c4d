"""Email drafts and the deterministic fallback template (string.Template, Russian or English)."""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

from leadgen.outreach.briefs import CompanyBrief, ContactBrief
from leadgen.outreach.offer import OfferBrief

TEMPLATE_VERSION = "2026-11.2"
"""Bump when the prompt or the fallback text changes: it is part of the draft cache key."""


@dataclass(frozen=True, slots=True)
class EmailTemplate:
    """A draft: subject and plain-text body, without greeting-independent footer (code adds that)."""

    subject: str
    body: str


FALLBACK_SUBJECT: dict[str, Template] = {
    "ru": Template("$product для компании $company"),
    "en": Template("$product for $company"),
}

FALLBACK_BODY: dict[str, Template] = {
    "ru": Template(
        "Здравствуйте!\n\n"
        "Меня зовут $sender_name, я пишу от имени компании $sender_company. "
        "Мы обратили внимание на компанию $company$about и хотим предложить: $product.\n\n"
        "$benefit\n\n"
        "$call_to_action\n\n"
        "С уважением,\n$signature"
    ),
    "en": Template(
        "Hello,\n\n"
        "My name is $sender_name and I am writing on behalf of $sender_company. "
        "We came across $company$about and would like to offer: $product.\n\n"
        "$benefit\n\n"
        "$call_to_action\n\n"
        "Best regards,\n$signature"
    ),
}


def fallback_draft(
    company: CompanyBrief, contact: ContactBrief, offer: OfferBrief, /, *, language: str = "ru"
) -> EmailTemplate:
    """The deterministic draft used when there is no LLM, it fails, or its draft breaks a guardrail."""
    del contact  # the greeting is the same for every mailbox; kept for a uniform composer signature
    lang = language if language in FALLBACK_BODY else "ru"
    company_name = _one_line(company.display_name)
    details = [d for d in (_one_line(company.niche), _one_line(company.city)) if d]
    about = f" ({', '.join(details)})" if details else ""
    signature = offer.sender_name  # title, company, address and phone follow in the footer added by code
    values = {
        "company": company_name,
        "about": about,
        "product": offer.product.rstrip("."),
        "benefit": offer.benefit,
        "call_to_action": offer.call_to_action,
        "sender_name": offer.sender_name,
        "sender_company": offer.sender_company,
        "signature": signature,
    }
    subject = FALLBACK_SUBJECT[lang].substitute(values)
    return EmailTemplate(subject=_one_line(subject), body=FALLBACK_BODY[lang].substitute(values))


def _one_line(text: str) -> str:
    return " ".join(text.split())
