"""Hard or soft: enhanced status codes (RFC 3463) and the diagnostic words real servers use."""

from __future__ import annotations

import re

from leadgen.mailbox.kinds import MailKind

# "550 5.1.1", "550-5.1.1", "550 #5.1.1", "550 5.1.10": the enhanced code that follows a basic SMTP reply.
_CODE_AFTER_REPLY = re.compile(r"\b[245]\d\d[ -]#?([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_CODE_HASH = re.compile(r"#([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_CODE_STATUS_LINE = re.compile(r"(?im)^[ \t]*Status:[ \t]*([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_CODE_BARE = re.compile(r"(?<![\w.\-/:])([45]\.\d{1,2}\.\d{1,3})(?![\d.\w])")
_BASIC_REPLY = re.compile(r"(?<![\d.\-])([45])([0-5])(\d)(?=[ -]|$)(?![ -]?\d+\.\d+\.\d+\.\d)", re.M)

# A permanent problem with the address itself.
HARD_WORDS = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient|account|address|person)|"
    r"(mailbox|user|account|address|recipient|e-?mail account)( \S+)? (does not|doesn't|did not) exist|"
    r"does ?n[o']t exist|not exist|mailbox unavailable|mailbox (is )?not (found|available)|"
    r"recipient (not found|unknown|invalid)|address (not found|unknown|invalid)|"
    r"invalid (mailbox|recipient|address|user)|unknown (mailbox|recipient|address|local[- ]part)|"
    r"user not found|account (is |has been )?(disabled|deactivated|suspended|closed|blocked)|"
    r"mailbox (is |has been )?(disabled|deactivated|suspended|closed|inactive)|unrouteable address|"
    r"no mailbox here|not listed in|couldn'?t be found|could not be found|was not found|wasn'?t found|"
    r"unknown or illegal alias|host or domain name not found|domain (not found|does not exist)|"
    r"no mx|bad destination|recipientnotfound|recipnotfound|addressee unknown|"
    r"invalid mailbox|is unavailable: user not found|has no mailbox|not a valid (mailbox|user|recipient)|"
    r"нет такого (пользователя|ящика|адреса|получателя)|не существует|пользовател\w* не найден|"
    r"адрес\w* не найден|ящик\w* не найден|неверный адрес|неизвестный (пользователь|получатель|адрес)|"
    r"ящик (заблокирован|удал[её]н|отключ[её]н)|не удалось найти|адрес не найден|не найден",
    re.I,
)
# A transient problem, or one that is not about the address (full mailbox, spam filter, policy, timeouts).
SOFT_WORDS = re.compile(
    r"mailbox (is )?full|mail ?box full|quota|over ?quota|insufficient (system )?storage|"
    r"exceed\w* (the |his |her |their )?(storage|size|mailbox|allocation|quota)|storage (space|allocation)|"
    r"not enough (space|storage)|out of storage|mailbox size limit|full mailbox|"
    r"переполнен|превыш\w*.{0,30}(квот|лимит|размер|объ[её]м)|нет места|"
    r"temporar|try again later|greylist|grey-list|graylist|deferr|delayed|will (be )?retr|still trying|"
    r"timed? ?out|connection (refused|timed out|lost|reset)|too many|rate limit|throttl|"
    r"spam|unsolicited|blocked|blacklist|black list|blocklist|block list|reputation|"
    r"policy|content rejected|message (is )?too (big|large)|size limit|message size exceeds|"
    r"dmarc|spf|dkim|not authorized to send|спам|временн|повторите попытку|отложен|"
    r"retry time(out)? (not reached|exceeded)|failing for a long time|expired|"
    r"reverse dns|ptr record|rdns|banned sending ip|not accepting connections|service (is |currently )*unavailable|"
    r"transaction failed|did not accept our requests to connect|could not deliver for the last|giving up on|"
    r"multiple retries|unable to connect|delivery failed \d+ attempts|routing loop|hop count|"
    r"receiving mail at a rate|exceeds? (the )?allowed size|exceeded the local limit|authenticat|"
    r"sender (rejected|domain|address rejected)|mail rejete|header error|protocol violation|"
    r"client host rejected|host network not allowed|invalid ip|name was rejected|mismatches client ip|"
    r"after (mail from|initial connection|end of data)|in reply to (data|end of data|mail from) command|"
    r"not delivered within|virus|malware",
    re.I,
)
# Enhanced codes that are transient in practice although they come with class 5 (RFC 3463 subjects.details).
_SOFT_DETAILS = frozenset({"2.2", "2.3", "3.1", "3.4", "4.6", "4.7", "4.5", "3.2"})


def enhanced_status(text: str) -> str | None:
    """The first enhanced status code the text shows ("550 5.1.1", "#5.1.1", "Status: 5.1.1", bare 5.1.1)."""
    for pattern in (_CODE_AFTER_REPLY, _CODE_HASH, _CODE_STATUS_LINE, _CODE_BARE):
        found = pattern.search(text)
        if found:
            return found.group(1)
    return None


def enhanced_statuses(text: str) -> list[str]:
    """Every enhanced status code after a basic reply code ("550 5.1.1", "#5.2.2"), in order."""
    found = [m.group(1) for m in _CODE_AFTER_REPLY.finditer(text)] + [
        m.group(1) for m in _CODE_HASH.finditer(text)
    ]
    return list(dict.fromkeys(found))


def basic_reply(text: str) -> str | None:
    """The first basic SMTP reply code of class 4 or 5 (e.g. "550"), or None."""
    found = _BASIC_REPLY.search(text)
    return found.group(0) if found else None


def severity(status: str | None, diagnostic: str, *, default: MailKind = MailKind.HARD_BOUNCE) -> MailKind:
    """HARD_BOUNCE or SOFT_BOUNCE for a failure with this enhanced code and diagnostic text."""
    if status:
        klass, _, detail = status.partition(".")
        if klass == "4":
            return MailKind.SOFT_BOUNCE
        if klass == "5":
            if detail in _SOFT_DETAILS:
                return MailKind.SOFT_BOUNCE
            if detail.startswith("1.") and detail not in ("1.7", "1.8"):
                return MailKind.HARD_BOUNCE  # X.1.x: the address itself (bad mailbox, bad domain)
            if HARD_WORDS.search(diagnostic):
                return MailKind.HARD_BOUNCE
            if SOFT_WORDS.search(diagnostic):
                return MailKind.SOFT_BOUNCE  # a spam filter, a policy or a full mailbox: the address is fine
            return MailKind.HARD_BOUNCE
    if HARD_WORDS.search(diagnostic):
        return MailKind.HARD_BOUNCE
    if SOFT_WORDS.search(diagnostic):
        return MailKind.SOFT_BOUNCE
    basic = basic_reply(diagnostic)
    if basic:
        if basic.startswith("4"):
            return MailKind.SOFT_BOUNCE
        return MailKind.SOFT_BOUNCE if basic == "552" else MailKind.HARD_BOUNCE
    return default
