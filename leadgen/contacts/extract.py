"""Pure extraction of emails and phones from one HTML page: `extract_contacts(html, /, *, base_url)`.

Sources, in order of trust: mailto links, JSON-LD and microdata (Organization/LocalBusiness), tel links and
Cloudflare-protected addresses, plain text, obfuscated text. Junk (assets, trackers, placeholders, requisites
that look like phones) is dropped; an address of a foreign domain next to "разработка сайта"/"создание сайта"
is the web studio's and is kept with a low score and `web_studio=True`, so it is never chosen as primary.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.etree as etree

from leadgen.contacts.emails import (
    CF_PROTECTION_PATH,
    decode_cfemail,
    deobfuscate,
    email_domain,
    emails_from_mailto,
    find_emails,
    normalise_email,
)
from leadgen.contacts.html_text import decode_html, parse_html, select_nodes, text_of, visible_text
from leadgen.contacts.phones import DEFAULT_REGION, find_phones, parse_phone, phone_from_tel
from leadgen.domains import canonical_domain

EMAIL = "email"
PHONE = "phone"
# Quality by source (DESIGN.md: mailto 1.0, tel 0.9, text 0.8, weak text 0.6); structured data sits between.
QUALITY = {
    ("email", "mailto"): 1.0,
    ("email", "jsonld"): 0.95,
    ("email", "microdata"): 0.95,
    ("email", "cfemail"): 0.9,
    ("email", "text"): 0.8,
    ("email", "obfuscated"): 0.7,
    ("phone", "tel"): 0.9,
    ("phone", "jsonld"): 0.9,
    ("phone", "microdata"): 0.9,
    ("phone", "text"): 0.8,
}
WEAK_TEXT_QUALITY = 0.6
WEB_STUDIO_QUALITY = 0.3
STUDIO_WINDOW = 160  # characters either side of an address searched for web-studio wording

# Footer credits of the studio that built the site (Russian and English wording).
WEB_STUDIO_RE = re.compile(
    r"(?:разработ\w*|создани\w*|изготовлени\w*|продвижени\w*|поддержк\w*|дизайн)\s+(?:и\s+\w+\s+)?(?:сайт|веб|интернет)"
    r"|сайт\w*\s+(?:разработан|создан|сделан|изготовлен)|(?:сделано|разработано|создано|сайт\s+сделали)\s+(?:в|by)\b"
    r"|веб[- ]?студи|web[- ]?studio|digital[- ]?агентств|(?:developed|made|designed|website|site|created)\s+(?:by|in)\b",
    re.I,
)
CONTEXT_BLOCKS = frozenset(
    {
        "p",
        "div",
        "li",
        "td",
        "th",
        "dd",
        "dt",
        "footer",
        "header",
        "section",
        "address",
        "span",
        "small",
        "tr",
    }
)
# Words in a link's href or text that may mean a contact/about page (a cheap superset of candidates.py rules).
LINK_HINT_RE = re.compile(
    r"conta|kontak|контакт|svyaz|связ|rekviz|реквиз|requisit|feedback|obratn|обратн|about|o-nas|o_nas|onas|о нас|"
    r"kompan|компан|company|adres|адрес|address|where|find|найти|проезд|проех|proezd|proeh|о-нас|who we are|"
    r"get in touch|reach",
    re.I,
)
LD_TYPES_RE = re.compile(r"application/(?:ld\+json|json)", re.I)
TRAILING_COMMA_RE = re.compile(r",\s*([}\]])")
# Every element the markup pass looks at, selected in C rather than by walking the tree in Python.
# Every element the markup pass looks at, selected in C rather than by walking the tree in Python. Selecting
# all anchors and filtering their href in Python is cheaper than an XPath predicate on the href.
MARKUP_XPATH = etree.XPath(
    "//a[@href] | //area[@href] | //*[@data-cfemail] | //*[@itemprop] | //script[@type]"
)


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact found on a page; `value` is a lower-case address or an E.164 number."""

    kind: str  # "email" | "phone"
    value: str
    source: str  # mailto, tel, text, jsonld, microdata, cfemail, obfuscated
    quality: float
    page_url: str
    extension: str | None = None
    web_studio: bool = False
    same_site: bool | None = None  # email domain belongs to the page's site (None: unknown / phone)

    @property
    def quality_score(self) -> float:
        """The name of the score in the `contacts` table."""
        return self.quality


@dataclass(frozen=True, slots=True)
class Link:
    """A same-document link: absolute URL and its visible text."""

    url: str
    text: str


@dataclass(frozen=True, slots=True)
class PageAnalysis:
    """Everything the crawler needs from one page, from a single parse."""

    contacts: list[Contact]
    text: str
    links: list[Link] = field(default_factory=list)  # only links that may lead to contact/about pages
    title: str = ""


@dataclass(slots=True)
class _Found:
    kind: str
    value: str
    source: str
    quality: float
    order: int
    extension: str | None = None
    contexts: list[str] = field(default_factory=list)  # lines of visible text around the address
    element_contexts: list[str] = field(default_factory=list)  # text of the block around its link


def site_host(base_url: str) -> str:
    """The site's host in the canonical form of `leadgen.domains` (Unicode, `www.` dropped, subdomains kept); an
    IP address or a single-label host as written; "" when there is none."""
    if host := canonical_domain(base_url, keep_subdomains=True):
        return host
    try:
        return (urlsplit(base_url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


# Country zones whose sites write numbers in their own national format (8 017 …, 044 …).
ZONE_REGIONS = {"by": "BY", "бел": "BY", "kz": "KZ", "қаз": "KZ", "ua": "UA", "укр": "UA", "uz": "UZ"}


def region_of(base_url: str) -> str:
    """Phone region of a site by its country zone; RU otherwise."""
    return ZONE_REGIONS.get(site_host(base_url).rpartition(".")[2], DEFAULT_REGION)


def same_site(domain: str, host: str) -> bool:
    return domain == host or domain.endswith("." + host) or host.endswith("." + domain)


class _Collector:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], _Found] = {}
        self.order = 0

    def add(
        self, kind: str, value: str, source: str, *, quality: float | None = None, extension: str | None = None,
        context: str = "", element_context: str = "",
    ) -> None:  # fmt: skip
        score = QUALITY[(kind, source)] if quality is None else quality
        key = (kind, value)
        self.order += 1
        found = self.items.get(key)
        if found is None:
            found = self.items[key] = _Found(kind, value, source, score, self.order, extension)
        elif score > found.quality:
            found.source, found.quality = source, score
        if extension and not found.extension:
            found.extension = extension
        if context:
            found.contexts.append(context)
        if element_context:
            found.element_contexts.append(element_context)


def _element_context(el: etree._Element) -> str:
    """Text of the nearest block around a link: the credit line of a studio is its own block."""
    node = el.getparent()
    while node is not None and isinstance(node.tag, str) and node.tag not in CONTEXT_BLOCKS:
        node = node.getparent()
    if node is None:
        node = el
    try:
        return text_of(node)[:400]
    except ValueError:
        return ""


def _line_context(text: str, start: int, end: int) -> str:
    """The line holding an address, plus the line before when the address starts its line."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    if len(text[line_start:start].strip(" :—-–")) < 3 and line_start > 0:
        line_start = text.rfind("\n", 0, line_start - 1) + 1
    return text[max(line_start, start - STUDIO_WINDOW) : min(line_end, end + STUDIO_WINDOW)]


def _jsonld_values(data: object, found: list[tuple[str, str]], depth: int = 0) -> None:
    if depth > 12:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            name = str(key).lower()
            if name in ("email", "telephone", "phone") and isinstance(value, (str, list)):
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str):
                        found.append((EMAIL if name == "email" else PHONE, item))
            elif isinstance(value, (dict, list)):
                _jsonld_values(value, found, depth + 1)
    elif isinstance(data, list):
        for item in data:
            _jsonld_values(item, found, depth + 1)


def _load_jsonld(text: str) -> object:
    text = text.strip().removeprefix("<!--").removesuffix("-->").strip()
    text = text.removeprefix("//<![CDATA[").removesuffix("//]]>").strip()
    try:
        return json.loads(text)
    except ValueError:
        try:
            return json.loads(TRAILING_COMMA_RE.sub(r"\1", text), strict=False)
        except ValueError:
            return None


def _add_structured(col: _Collector, kind: str, raw: str, source: str, region: str) -> None:
    """A value of JSON-LD/microdata: usually one clean address or number, sometimes a list or a labelled text."""
    raw = raw.strip()
    if kind == EMAIL:
        if raw.lower().startswith("mailto:"):
            values = emails_from_mailto(raw)
        else:
            single = normalise_email(raw)
            values = [single] if single else [m.value for m in find_emails(deobfuscate(raw))]
        for value in values:
            col.add(EMAIL, value, source)
        return
    if raw.lower().startswith(("tel:", "callto:")):
        parsed = phone_from_tel(raw, region=region)
        numbers = [parsed] if parsed else []
    else:
        one = parse_phone(raw, region=region) if len(raw) <= 32 else None
        numbers = [one] if one else [(p.value, p.extension) for p in find_phones(raw, region=region)]
    for value, extension in numbers:
        col.add(PHONE, value, source, extension=extension)


def _scan_markup(
    root: etree._Element, col: _Collector, base_url: str, region: str, want_links: bool
) -> list[Link]:
    links: list[Link] = []
    for el in select_nodes(MARKUP_XPATH, root):
        tag = el.tag
        attrib = el.attrib
        if tag == "a" or tag == "area":
            href = (attrib.get("href") or "").strip()
            low = href[:12].lower()
            if low.startswith("mailto:"):
                context = _element_context(el)
                for value in emails_from_mailto(href):
                    col.add(EMAIL, value, "mailto", element_context=context)
            elif low.startswith(("tel:", "callto:")):
                parsed = phone_from_tel(href, region=region)
                if parsed:
                    col.add(PHONE, parsed[0], "tel", extension=parsed[1])
            elif CF_PROTECTION_PATH in href:
                decoded = decode_cfemail(href.partition("#")[2])
                if decoded:
                    col.add(EMAIL, decoded, "cfemail", element_context=_element_context(el))
            elif want_links and href and not low.startswith(("javascript:", "#", "data:")):
                text = el.text if len(el) == 0 else text_of(el)
                text = " ".join(text.split())[:200] if text else ""
                if LINK_HINT_RE.search(href) or LINK_HINT_RE.search(text):
                    try:
                        links.append(Link(urljoin(base_url, href), text))
                    except ValueError:
                        pass
        cf = attrib.get("data-cfemail")
        if cf:
            decoded = decode_cfemail(cf)
            if decoded:
                col.add(EMAIL, decoded, "cfemail", element_context=_element_context(el))
        itemprop = attrib.get("itemprop")
        if itemprop:
            props = itemprop.lower().split()
            for prop, kind in (("email", EMAIL), ("telephone", PHONE)):
                if prop in props:
                    raw = attrib.get("content") or attrib.get("href") or text_of(el)
                    _add_structured(col, kind, raw, "microdata", region)
        if tag == "script" and LD_TYPES_RE.search(attrib.get("type", "")) and el.text:
            found: list[tuple[str, str]] = []
            _jsonld_values(_load_jsonld(el.text), found)
            for kind, raw in found:
                _add_structured(col, kind, raw, "jsonld", region)
    return links


def _scan_text(text: str, col: _Collector, region: str) -> None:
    plain = find_emails(text)
    seen = set()
    for m in plain:
        seen.add(m.value)
        col.add(EMAIL, m.value, "text", context=_line_context(text, m.start, m.end))
    clear = deobfuscate(text)
    if clear is not text:
        for m in find_emails(clear):
            ctx = _line_context(clear, m.start, m.end)
            col.add(EMAIL, m.value, "text" if m.value in seen else "obfuscated", context=ctx)
    for p in find_phones(text, region=region):
        col.add(
            PHONE, p.value, "text", quality=None if p.strong else WEAK_TEXT_QUALITY, extension=p.extension
        )


def _finish(col: _Collector, page_url: str, host: str) -> list[Contact]:
    out: list[Contact] = []
    for f in col.items.values():
        studio = False
        on_site: bool | None = None
        quality = f.quality
        if f.kind == EMAIL:
            domain = email_domain(f.value)
            on_site = same_site(domain, host) if host else None
            # Where the address is visible, its own lines decide; a link with other text falls back to its block.
            contexts = f.contexts or f.element_contexts
            if not on_site and any(WEB_STUDIO_RE.search(c) for c in contexts):
                studio, quality = True, WEB_STUDIO_QUALITY
        out.append(Contact(f.kind, f.value, f.source, quality, page_url, f.extension, studio, on_site))
    order = {(f.kind, f.value): f.order for f in col.items.values()}
    out.sort(key=lambda c: (-c.quality, order[(c.kind, c.value)]))
    return out


def analyse_page(
    html: str | bytes,
    /,
    *,
    base_url: str = "",
    content_type: str | None = None,
    region: str | None = None,
    want_links: bool = True,
) -> PageAnalysis:
    """Parse once and return the page's contacts, visible text, links and title.

    `region` reads numbers written without `+`; by default it follows the site's country zone (`.by`/`.бел`
    BY, `.kz`/`.қаз` KZ, `.ua`/`.укр` UA, `.uz` UZ), else RU.
    """
    region = region or region_of(base_url)
    if isinstance(html, bytes):
        html = decode_html(html, content_type=content_type)
    root = parse_html(html)
    col = _Collector()
    links: list[Link] = []
    text = ""
    title = ""
    if root is not None:
        links = _scan_markup(root, col, base_url, region, want_links)
        title_el = root.find(".//title")
        title = " ".join(text_of(title_el).split()) if title_el is not None else ""
        text = visible_text(root)
        if not unicodedata.is_normalized("NFC", text):  # "й" typed as и + combining breve (macOS, Word)
            text = unicodedata.normalize("NFC", text)
    _scan_text(text, col, region)
    return PageAnalysis(_finish(col, base_url, site_host(base_url)), text, links, title)


def extract_contacts(
    html: str | bytes, /, *, base_url: str = "", content_type: str | None = None, region: str | None = None
) -> list[Contact]:
    """Contacts of one page, best first (quality, then order of appearance), one per (kind, value)."""
    return analyse_page(
        html, base_url=base_url, content_type=content_type, region=region, want_links=False
    ).contacts
