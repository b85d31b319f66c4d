"""Pure email helpers: find addresses in text (plain and obfuscated), decode Cloudflare, validate, normalise."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qs, unquote

from email_validator import EmailNotValidError, validate_email

from leadgen.contacts.junk import email_junk_reason
from leadgen.domains import canonical_domain, public_suffix

# Local part: the dot-atom characters seen on real sites (RFC 5322 allows more; they are noise in HTML text),
# plus letters and digits of any script (RFC 6531: иван.петров@, müller@). A script switch inside the local
# part starts it anew, so glued text such as "Почтаinfo@firm.ru" yields "info@firm.ru".
# Domain: labels of letters, digits and hyphens; a label that switches script (Latin to Cyrillic or back) ends
# the domain there, and a non-Latin label after a Latin one is not part of it: "info@firm.ruТелефон" yields
# "info@firm.ru", while "zakaz@калач.рф", "почта@сайт.қаз" and punycode "info@xn--80a...xn--p1ai" are kept.
LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-_")
LOCAL_PUNCT = "._%+-"
MAX_LOCAL = 64
# Top-level domains: the ICANN section of the Public Suffix List snapshot bundled with tldextract (offline, never
# fetched), through the one parsed copy in leadgen.domains. A last label that is not one is a word glued to a
# real one ("рфпишите", "rucontacts") or a non-public name from a code sample ("admin@server.local").
GLUED_LATIN_TLDS = ("info", "com", "net", "org", "biz", "pro", "ru", "su", "by", "kz", "ua", "uz")
DOMAIN_CHARS_RE = re.compile(r"[^\W_](?:[^\W_]|-+(?=[^\W_])|\.(?=[^\W_]))*")
TLD_RE = re.compile(r"(?:[^\W\d_]{2,24}|xn--[a-z0-9\-]{2,30})\Z", re.I)
# Obfuscations: "info [at] firm [dot] ru", "info(at)firm.ru", "info собака firm.ru", "info @ firm.ru".
AT_BRACKETED_RE = re.compile(
    r"\s*[\[({<«]\s*(?:at|собака|собачка|эт|@)\s*[\])}>»]\s*|\s+(?:собака|собачка)\s+|\s+@\s*|@\s+", re.I
)
DOT_BRACKETED_RE = re.compile(r"\s*[\[({<«]\s*(?:dot|точка|тчк|\.)\s*[\])}>»]\s*", re.I)
# Bare words only count when both parts are spelled out: "info at firm dot ru", "иван собака пример точка рф".
AT_DOT_WORDS_RE = re.compile(
    r"(?<![\w.])([^\W_][\w.\-]{0,63})\s+(?:at|собака)\s+([\w\-]{1,63}(?:\s+(?:dot|точка)\s+[\w\-]{1,63})+)\b",
    re.I,
)
AT_THEN_DOT_WORDS_RE = re.compile(r"(@[\w\-]{1,63})((?:\s+(?:dot|точка)\s+[\w\-]{1,63})+)\b", re.I)
SPACED_DOT_RE = re.compile(r"(@[\w\-]{1,63}(?:\.[\w\-]{1,63})*)\s+\.\s+([^\W\d_]{2,24})\b", re.I)
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
    """The canonical form of an address, or None for junk and invalid input.

    RFC 6531 addresses are accepted (Unicode local parts, IDN domains). Canonical: local part lower case
    (NFC), domain lower case in Unicode (U-labels, NFC), so `info@xn--e1afmkfd.xn--p1ai` and
    `INFO@Пример.РФ` are the same contact `info@пример.рф`. `leadgen.outreach.idn` converts back for SMTP.
    """
    raw = raw.strip().strip(".,;:<>()[]\"'").lower()
    if raw.count("@") != 1 or len(raw) > 254:
        return None
    try:
        checked = validate_email(raw, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return None
    local, domain = checked.local_part.lower(), checked.domain.lower()
    if email_junk_reason(local, domain) or email_junk_reason(local, checked.ascii_domain.lower()):
        return None
    return f"{local}@{domain}"


@lru_cache(maxsize=4096)
def _script(ch: str) -> str:
    """Script of a letter ("LATIN", "CYRILLIC", "GREEK" ...); "" for digits and punctuation."""
    if not ch.isalpha():
        return ""
    if ch < "\x80":
        return "LATIN"
    return unicodedata.name(ch, "?").split(" ", 1)[0]


def _local_before(text: str, at: int) -> int:
    """Start of the local part ending at `at`: dot-atom characters and letters of any script, one script."""
    start = at
    script = ""
    while start > 0 and at - start < MAX_LOCAL:
        ch = text[start - 1]
        if not (ch in LOCAL_CHARS or (ch > "\x7f" and ch.isalnum())):
            break
        current = _script(ch)
        if current:
            if script and current != script:
                break  # "Почтаinfo@": the script switch starts the address
            script = current
        start -= 1
    while start < at and text[start] in LOCAL_PUNCT:
        start += 1
    return start


def _domain_after(text: str, begin: int) -> str:
    """The domain starting at `begin`, cut where a label switches script or a foreign-script label follows."""
    match = DOMAIN_CHARS_RE.match(text, begin)
    if not match:
        return ""
    labels: list[str] = []
    seen_latin = False
    for label in match.group().split("."):
        scripts = [(i, _script(ch)) for i, ch in enumerate(label)]
        letters = [(i, s) for i, s in scripts if s]
        first = letters[0][1] if letters else ""
        switch = next((i for i, s in letters if s != first), None)
        if first and first != "LATIN" and seen_latin:
            break  # "firm.ru.Телефон"
        if switch is not None:
            head = label[:switch].rstrip("-")
            if head:
                labels.append(head)
            break  # "firm.ruТелефон"
        camel = next((i for i in range(1, len(label)) if label[i - 1].islower() and label[i].isupper()), None)
        if camel is not None and labels and TLD_RE.match(label[:camel]):
            labels.append(label[:camel])
            break  # "завод.рфТел": a top-level domain is never camel-case, a glued word follows
        labels.append(label)
        seen_latin = seen_latin or first == "LATIN"
    while labels and not TLD_RE.match(labels[-1]) and len(labels) > 2:
        labels.pop()
    if labels and not _known_tld(labels[-1].lower()):
        tld = labels[-1].lower()
        if tld.isascii():  # only the zones of this market, and a word of 3+ letters after: "rucontacts"
            cut = next(
                (len(t) for t in GLUED_LATIN_TLDS if tld.startswith(t) and len(tld) - len(t) >= 3), None
            )
        else:  # the few Cyrillic zones: "рфпишите"
            cut = next((n for n in range(len(tld) - 1, 1, -1) if _known_tld(tld[:n])), None)
        if cut is None:
            return ""  # "server.local", "host.lan", "corp.internal": not public names
        labels[-1] = labels[-1][:cut]
    if len(labels) < 2 or not TLD_RE.match(labels[-1]):
        return ""
    return ".".join(labels)


@lru_cache(maxsize=4096)
def _known_tld(label: str) -> bool:
    return bool(label) and public_suffix("x." + label, private=False) == label


def load_suffix_list() -> None:
    """Parse the bundled suffix list now (~0.2-0.6 s once), not in the middle of a crawl's event loop."""
    _known_tld("ru")
    canonical_domain("http://example.ru/")


def find_emails(text: str, /) -> list[EmailMatch]:
    """Addresses written plainly in `text`, in order of appearance (scanned from each `@`, not each char)."""
    found: list[EmailMatch] = []
    at = text.find("@")
    while at != -1:
        begin = _local_before(text, at)
        if begin < at and text[begin].isalnum() and text[at - 1] not in ".":
            domain = _domain_after(text, at + 1)
            if domain:
                end = at + 1 + len(domain)
                value = normalise_email(text[begin:end])
                if value:
                    found.append(EmailMatch(value, begin, end))
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
    raws = [_unquote(part) for part in path.split(",")]
    for key, values in parse_qs(query).items():
        if key.lower() in ("to", "cc"):
            raws.extend(v for value in values for v in value.split(","))
    out: list[str] = []
    for raw in raws:
        value = normalise_email(raw)
        if value and value not in out:
            out.append(value)
    return out


def _unquote(part: str) -> str:
    """Percent-decoding as UTF-8 (RFC 6068), falling back to cp1251 for old Russian sites."""
    try:
        return unquote(part, errors="strict")
    except UnicodeDecodeError:
        return unquote(part, encoding="cp1251", errors="replace")


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
