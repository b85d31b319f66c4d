"""Pure HTML helpers: decode bytes with the right charset, parse leniently, and render the visible text."""

from __future__ import annotations

import codecs
import html as html_lib
import re
from collections.abc import Iterator
from typing import cast

import lxml.etree as etree

# `<meta charset=...>` and `<meta http-equiv="Content-Type" content="text/html; charset=...">` (HTML 4/5).
META_CHARSET_RE = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]{2,40})""", re.I)
HEADER_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_\-:.]{2,40})""", re.I)

# Elements whose text a visitor never reads, or that only hold form defaults.
INVISIBLE_TAGS = frozenset(
    {"script", "style", "noscript", "template", "textarea", "select", "option", "button", "head", "svg"}
)
# Block-level elements: their boundaries separate words (so `<td>a@b.ru</td><td>+7…</td>` stay apart).
BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "br", "dd", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "html", "label", "legend", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody",
        "td", "tfoot", "th", "thead", "title", "tr", "ul", "input", "img", "iframe", "caption",
    }
)  # fmt: skip
INVISIBLE_XPATH = etree.XPath("|".join(f"//{tag}" for tag in sorted(INVISIBLE_TAGS)) + "|//comment()")
# Tags in lxml's HTML serialisation: lower-case names, and ">" inside attribute values escaped as &gt;.
BLOCK_TAG_RE = re.compile(r"</?(?:" + "|".join(sorted(BLOCK_TAGS, key=len, reverse=True)) + r")\b[^>]*>")
TAG_RE = re.compile(r"<[^>]*>")
HTML_PARSER = etree.HTMLParser(recover=True, no_network=True, remove_comments=True, remove_pis=True)
ENTITY_RE = re.compile(r"&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,31});?", re.I)
CONTROL_CHARS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
INVISIBLE_CHARS_RE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")


def _normalise_charset(name: str | bytes | None) -> str | None:
    if not name:
        return None
    text = name.decode("ascii", "ignore") if isinstance(name, bytes) else name
    try:
        codec = codecs.lookup(text.strip().strip("\"'").lower())
    except LookupError:
        return None
    # Browsers treat ISO-8859-1/ASCII labels as windows-1252 (WHATWG Encoding), a superset.
    return "cp1252" if codec.name in ("latin-1", "iso8859-1", "ascii") else codec.name


def declared_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, as a Python codec name (None if absent/unknown)."""
    if not content_type:
        return None
    match = HEADER_CHARSET_RE.search(content_type)
    return _normalise_charset(match.group(1)) if match else None


def decode_html(body: bytes, /, *, content_type: str | None = None) -> str:
    """Decode an HTML body: BOM, then header charset, then `<meta>` charset, then UTF-8, then sniffing.

    A declared charset that fails to decode strictly (a page saved as windows-1251 but served as UTF-8 is
    common on Russian sites) is ignored and the next rule is tried; sniffing never fails (replacement chars).
    """
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    candidates: list[str] = []
    for name in (declared_charset(content_type), _meta_charset(body)):
        if name and name not in candidates:
            candidates.append(name)
    if "utf-8" not in candidates:
        candidates.append("utf-8")
    for name in candidates:
        try:
            return body.decode(name)
        except UnicodeDecodeError as exc:
            if exc.start >= len(body) - 4:  # a body cut by the size cap ends inside a character
                try:
                    return body[: exc.start].decode(name)
                except UnicodeDecodeError:
                    continue
        except LookupError:
            continue
    return body.decode(sniff_charset(body), errors="replace")


def _meta_charset(body: bytes) -> str | None:
    match = META_CHARSET_RE.search(body[:4096])
    return _normalise_charset(match.group(1)) if match else None


def sniff_charset(body: bytes) -> str:
    """Guess the charset of undeclared non-UTF-8 bytes; Cyrillic single-byte encodings are preferred."""
    from charset_normalizer import from_bytes

    best = from_bytes(body[:65536], cp_isolation=["cp1251", "koi8_r", "cp866", "cp1252", "utf_8"]).best()
    return best.encoding if best is not None else "cp1251"


def parse_html(text: str, /) -> etree._Element | None:
    """Parse HTML leniently with libxml2 (broken markup is fine; comments dropped); None when there is nothing."""
    if not text or not text.strip():
        return None
    # lxml refuses str input with an XML encoding declaration, NUL and other C0 control characters.
    text = CONTROL_CHARS_RE.sub("", text)
    if text.lstrip().startswith("<?xml"):
        text = re.sub(r"^\s*<\?xml[^>]*>", "", text)
    try:
        root = etree.fromstring(text, HTML_PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None
    return root


def text_of(el: etree._Element, /) -> str:
    """All text inside an element (like lxml.html's text_content)."""
    return "".join(cast("Iterator[str]", el.itertext()))  # str for a tree parsed from text


def select_nodes(xpath: etree.XPath, root: etree._Element, /) -> list[etree._Element]:
    """The nodes a node-selecting XPath finds (elements, comments); lxml types any XPath result as a union."""
    return cast("list[etree._Element]", xpath(root))


def visible_text(root: etree._Element | None, /) -> str:
    """The text a visitor would read: no scripts/styles/form defaults, blocks on their own lines.

    Mutates the tree (drops invisible elements): call it last on a parsed page. Rendering goes through one
    serialisation and two C-level regex passes, which is several times faster than walking the tree in Python.
    """
    if root is None:
        return ""
    for el in select_nodes(INVISIBLE_XPATH, root):
        parent = el.getparent()
        if parent is None:
            continue
        if el.tail:  # keep the text that follows the dropped element
            previous = el.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + el.tail
            else:
                parent.text = (parent.text or "") + el.tail
        parent.remove(el)
    try:
        markup = etree.tostring(root, method="html", encoding="unicode")
    except (ValueError, etree.SerialisationError):
        markup = " ".join(cast("Iterator[str]", root.itertext()))
    markup = BLOCK_TAG_RE.sub("\n", markup)
    return clean_text(TAG_RE.sub("", markup), unescape=True)


def clean_text(text: str, /, *, unescape: bool = False) -> str:
    """Unescape entities (all when `unescape`, else only leftovers), drop invisible chars, squeeze spaces."""
    if "&" in text and (unescape or ENTITY_RE.search(text)):
        text = html_lib.unescape(text)
    text = INVISIBLE_CHARS_RE.sub("", text)
    # str.split() splits on every Unicode space (NBSP, thin and ideographic spaces), so one pass squeezes them.
    return "\n".join([" ".join(words) for words in (line.split() for line in text.split("\n")) if words])


def extract_text(html: str | bytes, /, *, content_type: str | None = None, max_chars: int = 20000) -> str:
    """Visible text of a page (for briefs and site_text), at most `max_chars` characters."""
    if isinstance(html, bytes):
        html = decode_html(html, content_type=content_type)
    return visible_text(parse_html(html))[:max_chars]
