"""Lenient MIME reading for the classifier: parse capped raw bytes, decode headers and text parts, never raise."""

from __future__ import annotations

import codecs
import email
import email.header
import email.policy
import email.utils
import html
import re
from collections.abc import Iterator
from email.message import Message

MAX_BYTES = 1_500_000  # only this much of a raw message is parsed (bounces may carry a large original)
MAX_PARTS = 100  # MIME parts visited per message
MAX_DEPTH = 8  # nesting of multiparts followed
MAX_TEXT = 200_000  # characters kept per decoded text part

_ALIASES = {
    "win-1251": "cp1251",
    "windows-1251": "cp1251",
    "x-cp1251": "cp1251",
    "cp-1251": "cp1251",
    "koi8r": "koi8-r",
    "koi8": "koi8-r",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "ascii": "us-ascii",
    "ansi_x3.4-1968": "us-ascii",
    "x-unknown": "",
    "unknown-8bit": "",
    "default": "",
}
_ASCII_NAMES = frozenset({"us-ascii", "ascii", "646"})
_SINGLE_BYTE = frozenset({"cp1251", "koi8-r", "koi8-u", "cp1252", "iso8859-1", "iso8859-5", "cp866"})
_LOWER_CYRILLIC = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")
_ANGLE_ID = re.compile(r"<[^<>\s]{1,250}>")
_SURROGATES = re.compile(r"[\udc80-\udcff]")


def parse(raw: bytes) -> Message:
    """The message tree of the first MAX_BYTES of `raw` (compat32: the most lenient parser)."""
    data = bytes(raw[:MAX_BYTES]).lstrip(b" \t\r\n")
    if data.startswith(b"From "):  # an mbox separator line
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    try:
        return email.message_from_bytes(data, policy=email.policy.compat32)
    except Exception:
        return Message()


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _cyrillic_score(text: str) -> int:
    return sum(1 for ch in text if ch in _LOWER_CYRILLIC)


def sniff(data: bytes) -> str:
    """Decode undeclared bytes: UTF-8 when valid, else whichever of cp1251 and koi8-r reads as Russian."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = [data.decode(name, errors="replace") for name in ("cp1251", "koi8-r")]
    return max(candidates, key=_cyrillic_score)


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Text of `data` in its declared charset, sniffed when undeclared, ASCII-declared but 8-bit, or wrong."""
    name = _codec(charset)
    if name in _SINGLE_BYTE and not data.isascii():
        # A single-byte declaration over bytes that are valid UTF-8 is a mislabel (real cp1251 or koi8-r
        # Russian text is practically never valid UTF-8).
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if name and (name not in _ASCII_NAMES or data.isascii()):
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            pass
    if data.isascii():
        return data.decode("ascii")
    return sniff(data)


def _unsurrogate(value: str) -> str:
    if not _SURROGATES.search(value):
        return value
    return sniff(value.encode("utf-8", errors="surrogateescape"))


def decode_header_value(value: object) -> str:
    """A header value as text: raw 8-bit sniffed, RFC 2047 words decoded, folding undone."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = str(value)
    text = _unsurrogate(str(value))
    if "=?" in text:
        try:
            chunks = email.header.decode_header(text)
            out = []
            for chunk, charset in chunks:
                out.append(decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
            text = "".join(out)
        except Exception:  # noqa: S110 -- a malformed encoded word keeps its raw text
            pass
    return re.sub(r"\s*\r?\n[ \t]*", " ", text).strip()


def raw_headers_all(msg: Message) -> list[tuple[str, str]]:
    """Every (name, raw value) header pair of `msg`, in order."""
    try:
        items = msg.raw_items() if hasattr(msg, "raw_items") else msg.items()
        return [(str(k), str(v)) for k, v in items]
    except Exception:
        return []


def raw_headers(msg: Message, name: str) -> list[str]:
    """Every raw value of header `name` (case-insensitive), undecoded."""
    try:
        items = msg.raw_items() if hasattr(msg, "raw_items") else msg.items()
        return [str(v) for k, v in items if str(k).lower() == name.lower()]
    except Exception:
        return []


def header(msg: Message, name: str) -> str:
    """The decoded first value of header `name`, or an empty string."""
    values = raw_headers(msg, name)
    return decode_header_value(values[0]) if values else ""


def address(msg: Message, name: str) -> str | None:
    """The first address in header `name`, lowercase, or None."""
    try:
        addrs = email.utils.getaddresses([header(msg, name)])
    except Exception:
        return None
    for _display, addr in addrs:
        if "@" in addr:
            return addr.strip().lower()
    return None


def display_name(msg: Message, name: str) -> str:
    """The display name of the first address in header `name`."""
    try:
        return email.utils.parseaddr(header(msg, name))[0]
    except Exception:
        return ""


def message_ids(value: str) -> list[str]:
    """Every <message-id> in a header value, in order."""
    return _ANGLE_ID.findall(value or "")


def content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "text/plain"


def param(part: Message, name: str) -> str | None:
    try:
        value = part.get_param(name)
    except Exception:
        return None
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        value = value[2]
    return str(value) if value is not None else None


def walk(msg: Message, *, into_attached: bool = False) -> Iterator[Message]:
    """Parts depth-first, at most MAX_PARTS; a message/rfc822 part is yielded but not entered unless asked."""
    count = 0

    def rec(part: Message, depth: int) -> Iterator[Message]:
        nonlocal count
        if count >= MAX_PARTS or depth > MAX_DEPTH:
            return
        count += 1
        yield part
        ctype = content_type(part)
        if ctype.startswith("message/") and not into_attached:
            return
        try:
            children = part.get_payload() if part.is_multipart() else []
        except Exception:
            children = []
        if isinstance(children, list):
            for child in children:
                if isinstance(child, Message):
                    yield from rec(child, depth + 1)

    yield from rec(msg, 0)


def part_bytes(part: Message) -> bytes:
    """The transfer-decoded payload of a leaf part (base64 / quoted-printable undone)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return payload
    try:
        raw = part.get_payload()
    except Exception:
        return b""
    if isinstance(raw, str):
        return raw.encode("utf-8", errors="surrogateescape")
    return b""


def part_text(part: Message) -> str:
    """A leaf text part decoded to str, capped at MAX_TEXT characters; HTML turned into plain text."""
    text = decode_bytes(part_bytes(part)[: MAX_TEXT * 4], param(part, "charset"))[:MAX_TEXT]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if content_type(part) == "text/html":
        text = html_to_text(text)
    return text


_HTML_DROP = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>", re.I | re.S)
_HTML_BREAK = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h\d|p|div|tr|li|hr|blockquote|/blockquote)\b[^>]*>", re.I)
_HTML_TAG = re.compile(r"<[^>]{0,2000}>", re.S)
# Where quoted history starts in HTML replies (Gmail, Outlook, Yandex, Mail.ru, Thunderbird).
_HTML_QUOTE = re.compile(
    r"<div[^>]+(gmail_quote|divRplyFwdMsg|moz-cite-prefix|yandex_quote)|<blockquote|"
    r'<div[^>]*id="?appendonsend|<hr[^>]*>\s*<div[^>]*id="?divRplyFwdMsg',
    re.I,
)


def html_to_text(markup: str, *, strip_quotes: bool = False) -> str:
    """Plain text of an HTML body (tags dropped, entities decoded, block ends as line breaks)."""
    if strip_quotes:
        found = _HTML_QUOTE.search(markup)
        if found:
            markup = markup[: found.start()]
    markup = _HTML_DROP.sub(" ", markup)
    markup = _HTML_BREAK.sub("\n", markup)
    text = html.unescape(_HTML_TAG.sub("", markup))
    text = text.replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(lines)


def body_text(msg: Message) -> str:
    """The message's own readable text: its first text/plain part, else its first text/html part as text."""
    html_part = None
    for part in walk(msg):
        ctype = content_type(part)
        if part.is_multipart() or ctype.startswith("message/"):
            continue
        if _is_attachment(part):
            continue
        if ctype == "text/plain":
            return part_text(part)
        if ctype == "text/html" and html_part is None:
            html_part = part
    if html_part is not None:
        markup = decode_bytes(part_bytes(html_part)[: MAX_TEXT * 4], param(html_part, "charset"))
        return html_to_text(markup[:MAX_TEXT], strip_quotes=True)
    return ""


def _is_attachment(part: Message) -> bool:
    try:
        disposition = (part.get("Content-Disposition") or "").lower()
    except Exception:
        return False
    return disposition.startswith("attachment")


def top_texts(msg: Message) -> list[tuple[str, str]]:
    """(content type, text) of every text leaf outside attached messages, plus text/rfc822-headers parts."""
    out = []
    for part in walk(msg):
        ctype = content_type(part)
        if part.is_multipart():
            continue
        if ctype.startswith("text/") or ctype in (
            "message/delivery-status",
            "message/global-delivery-status",
        ):
            out.append((ctype, part_text(part)))
        elif ctype.startswith("multipart/"):
            out.append(("text/plain", part_text(part)))  # a multipart without its boundary: read it as text
    return out


def attached_messages(msg: Message) -> list[Message]:
    """Messages attached as message/rfc822 (the returned original of a bounce)."""
    out = []
    for part in walk(msg):
        if content_type(part) in ("message/rfc822", "message/global", "message/global-headers"):
            try:
                payload = part.get_payload()
            except Exception:  # noqa: S112 -- an unreadable attachment is skipped
                continue
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                out.append(payload[0])
            elif isinstance(payload, str | bytes):
                data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else payload
                out.append(parse(data))
    return out
