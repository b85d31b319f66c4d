"""Pure email helpers: find addresses in text (plain and obfuscated), decode Cloudflare, validate, normalise."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qs, unquote

from email_validator import EmailNotValidError, validate_email

from leadgen.contacts.junk import email_junk_reason

# Local part: the dot-atom characters seen on real sites (RFC 5322 allows more; they are noise in HTML text).
# Domain: all-Latin labels (punycode included) or all-Cyrillic labels (IDN like пример.рф); a script switch
# ends the domain, so glued text such as "info@firm.ruТелефон" yields "info@firm.ru".
LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
LOCAL_RE = re.compile(r"[a-z0-9](?:[a-z0-9._%+\-]{0,62}[a-z0-9_\-])?\Z", re.I)
DOMAIN_RE = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,24}|xn--[a-z0-9\-]{2,30})(?![a-z0-9\-])"
    r"|(?:[а-яё0-9](?:[а-яё0-9\-]{0,61}[а-яё0-9])?\.)+[а-яё]{2,24}(?![а-яё0-9\-])",
    re.I,
)
# Obfuscations: "info [at] firm [dot] ru", "info(at)firm.ru", "info собака firm.ru", "info @ firm.ru".
AT_BRACKETED_RE = re.compile(
    r"\s*[\[({<«]\s*(?:at|собака|собачка|эт|@)\s*[\])}>»]\s*|\s+(?:собака|собачка)\s+|\s+@\s*|@\s+", re.I
)
DOT_BRACKETED_RE = re.compile(r"\s*[\[({<«]\s*(?:dot|точка|тчк|\.)\s*[\])}>»]\s*", re.I)
# Bare words only count when both parts are spelled out: "info at firm dot ru".
AT_DOT_WORDS_RE = re.compile(
    r"(?<![\w.])([a-z0-9][a-z0-9._\-]{0,63})\s+(?:at|собака)\s+([a-z0-9\-]{1,63}(?:\s+(?:dot|точка)\s+[a-z0-9\-]{1,63})+)\b",
    re.I,
)
AT_THEN_DOT_WORDS_RE = re.compile(r"(@[a-z0-9\-]{1,63})((?:\s+(?:dot|точка)\s+[a-z0-9\-]{1,63})+)\b", re.I)
SPACED_DOT_RE = re.compile(r"(@[a-z0-9\-]{1,63}(?:\.[a-z0-9\-]{1,63})*)\s+\.\s+([a-z]{2,24})\b", re.I)
DOT_WORD_RE = re.compile(r"\s+(?:dot|точка)\s+", re.I)
# Hints that a line may hold an obfuscated address; only such lines are rewritten.
OBFUSCATION_HINTS = ("at]", "at)", "at }", "at ]", "at )", "at}", "at>", "at»", " at ", "собак", " dot ", "dot]", "dot)",
                     "точк", "тчк", " @", "@ ", "@\n", "\n@")  # fmt: skip

CF_PROTECTION_PATH = "/cdn-cgi/l/email-protection"


@dataclass(frozen=True, slots=True)
class EmailMatch:
    """An address found in text: the normalised value and where the raw match sits in the text."""

    value: str
    start: int
    end: int


@lru_cache(maxsize=65536)
def normalise_email(raw: str) -> str | None:
    """A lower-case, syntax-checked address (IDN domains in Unicode form), or None for junk and invalid input."""
    raw = raw.strip().strip(".,;:<>()[]\"'").lower()
    if raw.count("@") != 1 or len(raw) > 254:
        return None
    try:
        checked = validate_email(raw, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    local, domain = checked.local_part.lower(), checked.domain.lower()
    if email_junk_reason(local, domain) or email_junk_reason(local, checked.ascii_domain.lower()):
        return None
    return f"{local}@{domain}"


def find_emails(text: str, /) -> list[EmailMatch]:
    """Addresses written plainly in `text`, in order of appearance (scanned from each `@`, not each char)."""
    found: list[EmailMatch] = []
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and at - start < 64 and text[start - 1] in LOCAL_CHARS:
            start -= 1
        local = text[start:at].lstrip("._%+-")
        domain = DOMAIN_RE.match(text, at + 1)
        if local and domain and LOCAL_RE.match(local):
            begin = at - len(local)
            value = normalise_email(text[begin : domain.end()])
            if value:
                found.append(EmailMatch(value, begin, domain.end()))
        at = text.find("@", at + 1)
    return found


def deobfuscate(text: str, /) -> str:
    """Rewrite spelled-out `@` and `.` ("[at]", "(dot)", "собака", " @ ", "at ... dot") to the symbols.

    Only the lines holding a hint are rewritten; returns `text` itself (the same object) when nothing
    looks obfuscated, which is the common case.
    """
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters grow when lower-cased; positions must line up
        lowered = text
    hits = sorted(pos for hint in OBFUSCATION_HINTS for pos in _positions(lowered, hint))
    if not hits:
        return text
    spans: list[tuple[int, int]] = []
    for pos in hits:
        if spans and pos < spans[-1][1]:
            continue
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        spans.append((start, len(text) if end == -1 else end))
    parts: list[str] = []
    last = 0
    for start, end in spans:
        parts.append(text[last:start])
        parts.append(_deobfuscate_line(text[start:end]))
        last = end
    parts.append(text[last:])
    new = "".join(parts)
    return text if new == text else new


def _positions(text: str, needle: str) -> list[int]:
    out: list[int] = []
    pos = text.find(needle)
    while pos != -1 and len(out) < 1000:
        out.append(pos)
        pos = text.find(needle, pos + 1)
    return out


def _deobfuscate_line(text: str) -> str:
    text = AT_BRACKETED_RE.sub("@", text)
    text = DOT_BRACKETED_RE.sub(".", text)
    text = AT_DOT_WORDS_RE.sub(lambda m: f"{m.group(1)}@{DOT_WORD_RE.sub('.', m.group(2))}", text)
    text = SPACED_DOT_RE.sub(r"\1.\2", text)  # "info @ firm . ru"
    # "info@firm dot ru" left after the bracketed "@" rule.
    return AT_THEN_DOT_WORDS_RE.sub(lambda m: m.group(1) + DOT_WORD_RE.sub(".", m.group(2)), text)


def emails_from_mailto(href: str, /) -> list[str]:
    """Addresses of a `mailto:` link: percent-decoded, query string dropped, `to=`/comma lists expanded."""
    body = href.strip()[7:] if href[:7].lower() == "mailto:" else href
    body = body.lstrip("/")
    path, _, query = body.partition("?")
    raws = [unquote(part) for part in path.split(",")]
    for key, values in parse_qs(query).items():
        if key.lower() in ("to", "cc"):
            raws.extend(v for value in values for v in value.split(","))
    out: list[str] = []
    for raw in raws:
        value = normalise_email(raw)
        if value and value not in out:
            out.append(value)
    return out


def decode_cfemail(hex_payload: str, /) -> str | None:
    """Decode Cloudflare's email protection payload (first byte is the XOR key of the rest)."""
    payload = hex_payload.strip().split("#")[-1].split("?")[0]
    if len(payload) < 4 or len(payload) % 2 or not re.fullmatch(r"[0-9a-fA-F]+", payload):
        return None
    data = bytes.fromhex(payload)
    key = data[0]
    try:
        decoded = bytes(b ^ key for b in data[1:]).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if decoded.lower().startswith("mailto:"):
        decoded = decoded[7:]
    return normalise_email(unquote(decoded))


def encode_cfemail(email: str, /, *, key: int = 0x5A) -> str:
    """Cloudflare-style payload of an address (used by the site farm and tests)."""
    data = email.encode("utf-8")
    return f"{key:02x}" + "".join(f"{b ^ key:02x}" for b in data)


def email_domain(value: str, /) -> str:
    return value.rsplit("@", 1)[-1]
