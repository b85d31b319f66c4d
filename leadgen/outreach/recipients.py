"""Recipient checks before queueing: syntax (email-validator), disposable domain, opt-out, MX, role mailbox flag."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from disposable_email_domains import allowlist as DISPOSABLE_ALLOWLIST
from disposable_email_domains import blocklist as DISPOSABLE_BLOCKLIST
from email_validator import EmailNotValidError, validate_email

from leadgen.domains import parent_domains, to_ascii
from leadgen.outreach.optout import normalise_email
from leadgen.outreach.router import MxAnswer

# Shared mailboxes: allowed (small companies often only have info@), but flagged in metadata.
ROLE_LOCAL_PARTS: frozenset[str] = frozenset(
    {
        "info",
        "sales",
        "office",
        "admin",
        "administrator",
        "support",
        "help",
        "hello",
        "contact",
        "contacts",
        "mail",
        "post",
        "reception",
        "zakaz",
        "order",
        "orders",
        "shop",
        "manager",
        "marketing",
        "pr",
        "hr",
        "job",
        "jobs",
        "buh",
        "buhgalter",
        "secretary",
        "priemnaya",
        "team",
        "feedback",
        "service",
        "client",
        "clients",
        "welcome",
        "opt",
        "torg",
        "tender",
    }
)
# Never written to: automated or abuse mailboxes.
BLOCKED_LOCAL_PARTS: frozenset[str] = frozenset(
    {
        "noreply",
        "no-reply",
        "no_reply",
        "donotreply",
        "do-not-reply",
        "mailer-daemon",
        "postmaster",
        "abuse",
        "bounce",
        "bounces",
        "webmaster",
        "hostmaster",
        "unsubscribe",
    }
)


DISPOSABLE_REASON = "disposable address"
ADDRESS_TAKEN = "address already gets a message in this campaign (another company shares it)"


@dataclass(frozen=True, slots=True)
class RecipientCheck:
    """Whether an address may be written to; `reason` says why not, `is_role` flags shared mailboxes."""

    email: str
    ok: bool
    reason: str | None = None
    is_role: bool = False
    mx_hosts: tuple[str, ...] = ()


def check_syntax(email: str, /) -> tuple[str | None, str | None]:
    """(normalised address, None) or (None, reason); no DNS here."""
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        return None, f"invalid address: {exc}"
    return normalise_email(result.normalized), None


def is_disposable(email_or_domain: str, /) -> bool:
    """The domain (or a parent) is a throw-away mailbox service in the maintained `disposable-email-domains`
    list (`mailinator.com`, `10minutemail.com`, ...); free mail like mail.ru or gmail.com is not."""
    domain = normalise_email(email_or_domain).rpartition("@")[2]
    suffixes = parent_domains(to_ascii(domain) or domain)  # the lists spell IDN domains in punycode
    if any(d in DISPOSABLE_ALLOWLIST for d in suffixes):
        return False
    return any(d in DISPOSABLE_BLOCKLIST for d in suffixes)


def is_role_address(email: str, /) -> bool:
    local = email.split("@", 1)[0].lower()
    return local in ROLE_LOCAL_PARTS or local.split("+", 1)[0] in ROLE_LOCAL_PARTS


def check_recipient(
    email: str,
    /,
    *,
    mx_lookup: Callable[[str], MxAnswer] | None = None,
    opted_out: Callable[[str], str | None] | None = None,
) -> RecipientCheck:
    """Syntax, blocked mailboxes, disposable domains, opt-out, then MX (skipped when `mx_lookup` is None)."""
    normalised, problem = check_syntax(email)
    if normalised is None:
        return RecipientCheck(email.strip(), False, problem)
    local, _, domain = normalised.rpartition("@")
    role = is_role_address(normalised)
    if local in BLOCKED_LOCAL_PARTS:
        return RecipientCheck(normalised, False, f"automated mailbox {local}@", role)
    if is_disposable(domain):
        return RecipientCheck(normalised, False, DISPOSABLE_REASON, role)
    if opted_out is not None:
        reason = opted_out(normalised)
        if reason:
            return RecipientCheck(normalised, False, reason, role)
    hosts: tuple[str, ...] = ()
    if mx_lookup is not None:
        answer = mx_lookup(domain)
        if answer.null_mx:
            return RecipientCheck(normalised, False, "domain accepts no mail (null MX)", role)
        if not answer.hosts:
            if answer.error and answer.error.startswith("dns_error"):
                # A DNS failure is not proof of absence: allow, routing will treat it as UNKNOWN.
                return RecipientCheck(normalised, True, None, role)
            return RecipientCheck(normalised, False, f"no MX for {domain} ({answer.error})", role)
        hosts = answer.hosts
    return RecipientCheck(normalised, True, None, role, hosts)
