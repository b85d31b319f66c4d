"""Internationalised recipients (RFC 6531/5890): the SMTP form of an address and the SMTPUTF8 decision.

Contacts are stored in Unicode (`продажи@окна.рф`). On the wire an IDN domain always goes out as punycode
(`info@xn--80atjc.xn--p1ai`, envelope and To header), which any server accepts; a non-ASCII local part cannot
be converted, so such an address is sent only to a server that announces SMTPUTF8 in its EHLO reply.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterable
from email.headerregistry import Address

from leadgen.domains import to_ascii
from leadgen.errors import SmtpPermanentError

NEEDS_SMTPUTF8 = "needs SMTPUTF8"


class SmtpUtf8Unsupported(SmtpPermanentError):
    """The route's server does not announce SMTPUTF8 but an address needs it; try another route or skip."""


def ascii_domain(domain: str, /) -> str:
    """`окна.рф` → `xn--80atjc.xn--p1ai` (IDNA 2008 via the `idna` package, UTS 46 mapping); ASCII unchanged."""
    ascii_form = to_ascii(domain)  # the one IDN rule (leadgen.domains)
    if ascii_form is None:
        raise UnicodeError(f"domain {domain!r} has no IDNA form")
    return ascii_form


def smtp_address(email: str, /) -> str:
    """The address as it goes on the wire: the local part as written, the domain in punycode."""
    local, at, domain = email.strip().rpartition("@")
    if not at:
        return email.strip()
    return f"{local}@{ascii_domain(domain)}"


def header_address(email: str, /, display_name: str = "") -> Address:
    """A To/Cc header address in wire form; a Unicode local part is kept (the email package refuses it in
    `addr_spec`, and writes it as UTF-8 when smtplib sends with SMTPUTF8)."""
    local, _, domain = smtp_address(email).rpartition("@")
    return Address(display_name=display_name, username=local, domain=domain)


def needs_smtputf8(addresses: Iterable[str], /) -> bool:
    """True when an address has a non-ASCII local part (its domain can always be punycode)."""
    return any(not smtp_address(address).isascii() for address in addresses)


def ensure_smtputf8(smtp: smtplib.SMTP, addresses: Iterable[str], *, route: str) -> None:
    """Raise SmtpUtf8Unsupported when an address needs SMTPUTF8 and the connected server did not announce it.

    Call after EHLO; smtplib's `send_message` then adds `SMTPUTF8` to MAIL FROM and sends UTF-8 headers.
    """
    wanted = [a for a in addresses if not smtp_address(a).isascii()]
    if wanted and not smtp.has_extn("smtputf8"):
        raise SmtpUtf8Unsupported(f"{NEEDS_SMTPUTF8}: route {route} does not announce it ({wanted[0]})")


def smtputf8_mail_options(addresses: Iterable[str], /) -> list[str]:
    """MAIL FROM parameters for a step-by-step SMTP dialogue (`smtp.mail(sender, options)`): SMTPUTF8 and
    8BITMIME when an address needs it (flatten the message with `policy.SMTPUTF8` then), else none."""
    return ["SMTPUTF8", "BODY=8BITMIME"] if needs_smtputf8(addresses) else []
