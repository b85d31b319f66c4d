"""Build the outgoing EmailMessage (email package only): headers, opt-out footer, RFC 2369/8058 List-Unsubscribe."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.policy import default as default_policy
from email.utils import format_datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from leadgen.outreach.idn import header_address
from leadgen.outreach.offer import OfferBrief

if TYPE_CHECKING:  # leadgen.unsubscribe imports leadgen.outreach: only the type is needed here
    from leadgen.unsubscribe.tokens import UnsubscribeLinks

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# RFC 2369 section 2: a list header is one or more `<URI>` separated by commas (URIs in RFC 3986 characters).
URI_LIST_RE = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+>(?:\s*,\s*<[\x21-\x3b\x3d\x3f-\x7e]+>)*")
URI_RE = re.compile(r"<[^<>]+>")
FOOTER_SEPARATOR = "-- "  # RFC 3676 signature separator


class UriListHeader(UnstructuredHeader):
    """An RFC 2369 list header: folded only between its URIs, never RFC 2047-encoded.

    The email package encodes any word longer than a line, and mail clients do not decode `List-Unsubscribe`,
    so a long one-click URI would be lost; an RFC 5322 line may reach 998 characters, which these stay under.
    """

    name: str  # from BaseHeader, which the header registry mixes into this class

    max_count = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, object]) -> None:
        if not URI_LIST_RE.fullmatch(value.strip()):
            raise ValueError(f"not an RFC 2369 list of <URI>s: {value[:60]!r}")
        super().parse(value, kwds)

    def fold(self, *, policy: Policy) -> str:
        limit = policy.max_line_length or 998
        uris = URI_RE.findall(str(self))
        lines = [f"{self.name}: {uris[0]}"]
        for uri in uris[1:]:
            if len(lines[-1]) + len(uri) + 2 <= limit:
                lines[-1] += f", {uri}"
            else:
                lines[-1] += ","
                lines.append(f" {uri}")
        return policy.linesep.join(lines) + policy.linesep


def _message_policy() -> Policy:
    registry = HeaderRegistry()
    # typeshed asks for a BaseHeader subclass; the registry itself mixes BaseHeader into the classes it is given
    registry.map_to_type("list-unsubscribe", UriListHeader)  # type: ignore[arg-type]
    return default_policy.clone(header_factory=registry)


# email.policy.default, except that List-Unsubscribe keeps its URIs verbatim (see UriListHeader).
MESSAGE_POLICY = _message_policy()


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Where recipients unsubscribe: a mailto address and, with UNSUBSCRIBE_BASE_URL, signed one-click links."""

    mailto: str | None = None
    links: UnsubscribeLinks | None = None

    def url_for(self, to_email: str, message_id: str, /) -> str | None:
        """The one-click URL of one message to one address (None without UNSUBSCRIBE_BASE_URL)."""
        return self.links.url(to_email, message_id=message_id) if self.links else None

    def mailto_uri(self) -> str | None:
        """`mailto:unsub@example.ru?subject=unsubscribe` (RFC 6068), or None without an address."""
        if not self.mailto:
            return None
        address = quote(self.mailto.removeprefix("mailto:").strip(), safe="@.+-_")
        return f"mailto:{address}?{urlencode({'subject': 'unsubscribe'})}"


def header_text(value: str, /) -> str:
    """Collapse CR, LF and other control characters to spaces: a company name cannot add a header."""
    return " ".join(CONTROL_RE.sub(" ", value).split())


def new_message_id(domain: str, /) -> str:
    """A fresh, opaque Message-ID `<32 random hex digits@sender domain>` (RFC 5322 section 3.6.4).

    Random, not derived from the row id or campaign: ids never repeat across databases or after a reset (a reply's
    In-Reply-To cannot match the wrong row) and reveal no send volume. The caller stores it on the row once, so
    every retry of that row reuses it.
    """
    return f"<{secrets.token_hex(16)}@{domain.lower()}>"


def unsubscribe_header(
    unsubscribe: Unsubscribe, /, *, to_email: str, message_id: str
) -> tuple[str | None, bool]:
    """(List-Unsubscribe value, one-click supported): RFC 2369 `<uri>` list, the http(s) one first (RFC 8058)."""
    url = unsubscribe.url_for(to_email, message_id)
    uris = [uri for uri in (url, unsubscribe.mailto_uri()) if uri]
    return (", ".join(f"<{uri}>" for uri in uris) or None), url is not None


def footer_text(offer: OfferBrief, unsubscribe: Unsubscribe, *, url: str | None = None) -> str:
    """The footer code appends to every body: identity, physical address and how to opt out (`url`: one-click)."""
    signer = ", ".join(p for p in (offer.sender_name, offer.sender_title) if p)
    lines = [FOOTER_SEPARATOR, signer, offer.sender_company, offer.physical_address]
    if offer.sender_phone:
        lines.append(offer.sender_phone)
    if offer.sender_website:
        lines.append(offer.sender_website)
    lines += ["", offer.unsubscribe_text]
    if url:
        lines.append(f"Отписаться в один клик / Unsubscribe: {url}")
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
    unsubscribe: Unsubscribe,
    date: datetime,
) -> EmailMessage:
    """One plain-text message with every header set through the email package."""
    msg = EmailMessage(policy=MESSAGE_POLICY)
    msg["From"] = Address(display_name=header_text(offer.sender_name), addr_spec=from_address.strip())
    msg["To"] = header_address(to_email)  # IDN: punycode domain, Unicode local part kept (outreach/idn.py)
    if offer.sender_email and offer.sender_email.lower() != from_address.lower():
        msg["Reply-To"] = Address(display_name=header_text(offer.sender_name), addr_spec=offer.sender_email)
    msg["Subject"] = header_text(subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    list_unsubscribe, one_click = unsubscribe_header(unsubscribe, to_email=to_email, message_id=message_id)
    if list_unsubscribe:
        msg["List-Unsubscribe"] = list_unsubscribe
    if one_click:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    url = unsubscribe.url_for(to_email, message_id)
    text = body.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    msg.set_content(
        f"{text}\n\n{footer_text(offer, unsubscribe, url=url)}\n",
        subtype="plain",
        charset="utf-8",
        cte="quoted-printable",
    )
    return msg
