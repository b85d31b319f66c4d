"""Build the outgoing EmailMessage (email package only): headers, opt-out footer, List-Unsubscribe."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import quote, urlencode, urlsplit

from leadgen.outreach.idn import header_address
from leadgen.outreach.offer import OfferBrief

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
FOOTER_SEPARATOR = "-- "  # RFC 3676 signature separator


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Where recipients unsubscribe: a mailto address and, optionally, an https one-click endpoint."""

    mailto: str | None = None
    url: str | None = None


def header_text(value: str, /) -> str:
    """Collapse CR, LF and other control characters to spaces: a company name cannot add a header."""
    return " ".join(CONTROL_RE.sub(" ", value).split())


def message_token(campaign: str, row_id: int, /) -> str:
    return hashlib.sha256(f"leadgen:{campaign}:{row_id}".encode()).hexdigest()[:24]


def message_id_for(campaign: str, row_id: int, domain: str, /) -> str:
    """Deterministic Message-ID of one outreach row (the same on every attempt)."""
    return f"<leadgen.{row_id}.{message_token(campaign, row_id)}@{domain.lower()}>"


def unsubscribe_header(unsubscribe: Unsubscribe, *, token: str) -> tuple[str | None, bool]:
    """(List-Unsubscribe value, one-click supported). One-click (RFC 8058) needs an https URI."""
    parts: list[str] = []
    one_click = False
    if unsubscribe.mailto:
        address = unsubscribe.mailto.removeprefix("mailto:")
        parts.append(f"<mailto:{quote(address, safe='@.+-_')}?subject=unsubscribe>")
    if unsubscribe.url and urlsplit(unsubscribe.url).scheme == "https":
        sep = "&" if "?" in unsubscribe.url else "?"
        parts.append(f"<{unsubscribe.url}{sep}{urlencode({'id': token})}>")
        one_click = True
    return (", ".join(parts) or None), one_click


def footer_text(offer: OfferBrief, unsubscribe: Unsubscribe) -> str:
    """The footer code appends to every body: identity, physical address and how to opt out."""
    signer = ", ".join(p for p in (offer.sender_name, offer.sender_title) if p)
    lines = [FOOTER_SEPARATOR, signer, offer.sender_company, offer.physical_address]
    if offer.sender_phone:
        lines.append(offer.sender_phone)
    if offer.sender_website:
        lines.append(offer.sender_website)
    lines += ["", offer.unsubscribe_text]
    if unsubscribe.mailto:
        lines.append(f"Отписаться: mailto:{unsubscribe.mailto.removeprefix('mailto:')}?subject=unsubscribe")
    return "\n".join(lines)


def build_message(
    *,
    subject: str,
    body: str,
    to_email: str,
    from_address: str,
    offer: OfferBrief,
    message_id: str,
    token: str,
    unsubscribe: Unsubscribe,
    date: datetime,
) -> EmailMessage:
    """One plain-text message with every header set through the email package."""
    msg = EmailMessage()
    msg["From"] = Address(display_name=header_text(offer.sender_name), addr_spec=from_address.strip())
    msg["To"] = header_address(to_email)  # IDN: punycode domain, Unicode local part kept (outreach/idn.py)
    if offer.sender_email and offer.sender_email.lower() != from_address.lower():
        msg["Reply-To"] = Address(display_name=header_text(offer.sender_name), addr_spec=offer.sender_email)
    msg["Subject"] = header_text(subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    list_unsubscribe, one_click = unsubscribe_header(unsubscribe, token=token)
    if list_unsubscribe:
        msg["List-Unsubscribe"] = list_unsubscribe
    if one_click:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text = body.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    msg.set_content(
        f"{text}\n\n{footer_text(offer, unsubscribe)}\n",
        subtype="plain",
        charset="utf-8",
        cte="quoted-printable",
    )
    return msg
