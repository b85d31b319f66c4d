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
EMAIL_RE = re.compile(
    r"(?<![a-z0-9._%+\-])"
    r"([a-z0-9](?:[a-z0-9._%+\-]{0,62}[a-z0-9_\-])?)"
    r"@"
    r"((?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,24}|xn--[a-z0-9\-]{2,30})(?![a-z0-9\-])"
    r"|(?:[а-яё0-9](?:[а-яё0-9\-]{0,61}[а-яё0-9])?\.)+[а-яё]{2,24}(?![а-яё0-9\-]))",
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
DOT_WORD_RE = re.compile(r"\s+(?:dot|точка)\s+", re.I)
OBFUSCATION_HINT_RE = re.compile(r"\bat\b|\bdot\b|собак|точк|тчк|\s@|@\s", re.I)

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
    """Addresses written plainly in `text`, in order of appearance."""
    if "@" not in text:
        return []
    found: list[EmailMatch] = []
    for match in EMAIL_RE.finditer(text):
        value = normalise_email(match.group(0))
        if value:
            found.append(EmailMatch(value, match.start(), match.end()))
    return found


def deobfuscate(text: str, /) -> str:
    """Rewrite spelled-out `@` and `.` ("[at]", "(dot)", "собака", " @ ", "at ... dot") to the symbols."""
    if not OBFUSCATION_HINT_RE.search(text) and "[" not in text and "(" not in text:
        return text
    text = AT_BRACKETED_RE.sub("@", text)
    text = DOT_BRACKETED_RE.sub(".", text)
    text = AT_DOT_WORDS_RE.sub(lambda m: f"{m.group(1)}@{DOT_WORD_RE.sub('.', m.group(2))}", text)
    # "info@firm dot ru" left after the bracketed "@" rule.
    return re.sub(r"(@[a-z0-9\-]{1,63})((?:\s+(?:dot|точка)\s+[a-z0-9\-]{1,63})+)\b",
                  lambda m: m.group(1) + DOT_WORD_RE.sub(".", m.group(2)), text, flags=re.I)  # fmt: skip


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
