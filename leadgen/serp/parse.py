"""Parse a Yandex Search API XML page (decoded rawData) into typed, frozen documents; pure, streaming, hardened."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any, TypeAlias
from xml.etree.ElementTree import Element, ParseError, XMLParser

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from leadgen.domains import canonical_parts, canonicalise
from leadgen.errors import SerpParseError

# Yandex XML error 15 is "no results found": an empty page, not a failure (reference §3; yandex-cloud-ml-sdk and
# keenableai/needle treat it the same way).
NO_RESULTS_CODE = 15
ROOT_TAG = "yandexsearch"
WHITESPACE_RE = re.compile(r"\s+")
XML_DECL_ENCODING_RE = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2", re.IGNORECASE)
INT_RE = re.compile(r"^\s*(-?\d{1,18})\s*$")
MAX_MESSAGE_CHARS = 300
# The tree path (C expat builds the whole tree, one walk in Python) serves payloads that cannot carry a DTD: no
# DOCTYPE or ENTITY declaration in bytes that expat reads as UTF-8/ASCII, so no entity can be declared or expanded.
# Anything else (or anything the tree path fails on) goes through the defused streaming parser, which has the
# last word on every error.
TREE_MAX_BYTES = 4 * 1024 * 1024
TREE_ENCODINGS = frozenset({b"utf-8", b"utf8", b"us-ascii", b"ascii"})
XML_DECL_ENCODING_VALUE_RE = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
# Elements whose end `_on_end` acts on; the walk skips the call for the others.
GROUP_START_RE = re.compile(rb"<group[\s/>]")
ACTIVE_END_TAGS = frozenset({"group", "request", "page", "error", "reqid", "found", "found-human"})


@dataclass(frozen=True, slots=True)
class SerpDocument:
    """One result document. `position` is the 1-based rank of its group over all pages; docs of one group share it."""

    url: str
    canonical_url: str
    domain: str | None
    host: str
    title: str | None
    snippet: str | None
    passages: tuple[str, ...]
    headline: str | None
    position: int
    page: int
    rank_in_group: int = 1
    group: str | None = None
    yandex_domain: str | None = None
    modtime: str | None = None
    lang: str | None = None
    mime_type: str | None = None
    saved_copy_url: str | None = None


# A document as `parse_lean` gives it: SerpDocument's first twelve fields, in their order (url, canonical_url, domain,
# host, title, snippet, passages, headline, position, page, rank_in_group, group): no object per document.
LeanDocument: TypeAlias = tuple[
    str, str, str | None, str, str | None, str | None, tuple[str, ...], str | None, int, int, int, str | None
]


@dataclass(frozen=True, slots=True)
class SerpPage:
    """A parsed response page: its documents, what was skipped, and the echo of the request when present."""

    documents: tuple[SerpDocument, ...]
    page: int
    groups_on_page: int | None = None
    query: str | None = None
    reqid: str | None = None
    date: str | None = None
    found: int | None = None
    found_human: str | None = None
    skipped_invalid_url: int = 0
    error_code: int | None = None
    error_message: str | None = None
    groups: int = 0

    @property
    def is_empty(self) -> bool:
        return not self.documents


def clean_text(element: Element | None) -> str | None:
    """All text of an element, `<hlword>` markup flattened, runs of whitespace collapsed; None when empty."""
    if element is None:
        return None
    text = "".join(element.itertext()) if len(element) else element.text  # a leaf's own text is all of it
    if not text:
        return None
    # `split()` cuts at the runs `WHITESPACE_RE` matches (both use str.isspace) and drops the ends, as strip() does
    return " ".join(text.split()) or None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    match = INT_RE.match(text)
    return int(match.group(1)) if match else None


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


@dataclass(slots=True)
class _State:
    """What the stream has told us so far about the page."""

    request_page: int | None = None
    request_gop: int | None = None
    query: str | None = None
    grouping_gop: int | None = None
    page_first: int | None = None
    page_text: int | None = None
    reqid: str | None = None
    date: str | None = None
    found: int | None = None
    found_human: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    error_seen: bool = False
    groups: int = 0
    skipped: int = 0
    documents: list[Any] = field(default_factory=list)  # SerpDocument, or LeanDocument with `tuples`
    details: bool = True  # read yandex_domain, modtime, lang, mime_type, saved_copy_url
    tuples: bool = False  # documents as LeanDocument tuples (implies details=False)

    @property
    def page(self) -> int:
        page = self.page_text if self.page_text is not None else self.request_page
        return page if page is not None and page >= 0 else 0

    @property
    def groups_on_page(self) -> int | None:
        gop = self.request_gop if self.request_gop is not None else self.grouping_gop
        return gop if gop is not None and gop > 0 else None

    def position(self, index: int) -> int:
        """1-based absolute position of the group at 0-based `index` on this page."""
        if self.groups_on_page is not None:
            return self.page * self.groups_on_page + index + 1
        if self.page_first is not None and self.page_first > 0:
            return self.page_first + index
        return index + 1


def _as_bytes(payload: bytes | str) -> bytes:
    if isinstance(payload, str):
        data = payload.encode("utf-8")
        # A str is already decoded: make the declaration agree with the UTF-8 bytes handed to the parser.
        return XML_DECL_ENCODING_RE.sub(rb"\1\2utf-8\2", data, count=1)
    return bytes(payload)


def _lean_tuple(
    doc: Element, state: _State, position: int, rank: int, group: str | None
) -> LeanDocument | None:
    """A document's stored fields as a tuple: only the first <url>, <title>, <headline> and every passage read.
    (`find`/`findall` of a plain tag run over the children in C; tags are local names by the time a group ends.)"""
    url, title, headline = doc.find("url"), doc.find("title"), doc.find("headline")
    passage_elements = [el for passages in doc.findall("passages") for el in passages.findall("passage")]
    raw_url = clean_text(url)
    parts = canonical_parts(raw_url)
    if raw_url is None or parts is None:
        return None
    canonical, host, domain = parts
    passages = tuple(p for p in map(clean_text, passage_elements) if p)
    headline_text = clean_text(headline)
    return (raw_url, canonical, domain, host, clean_text(title), " ".join(passages) if passages else headline_text,
            passages, headline_text, position, state.page, rank, group)  # fmt: skip


def _lean_document(
    doc: Element, state: _State, position: int, rank: int, group: str | None
) -> SerpDocument | None:
    """`_document` with `details=False`: reads only the first <url>, <title>, <headline> and every passage."""
    fields = _lean_tuple(doc, state, position, rank, group)
    return SerpDocument(*fields) if fields is not None else None


def _document(
    doc: Element, state: _State, position: int, rank: int, group: str | None
) -> SerpDocument | None:
    # One pass over the children, as `find(tag)` (first match), `iterfind("passages/passage")` (every passage of
    # every <passages>, in order) and `find("properties/lang")` would read them.
    first: dict[str, Element] = {}
    passage_elements: list[Element] = []
    lang: Element | None = None
    for child in doc:
        tag = child.tag
        if tag == "passages":
            passage_elements.extend(el for el in child if el.tag == "passage")
        elif tag == "properties" and lang is None:
            lang = next((el for el in child if el.tag == "lang"), None)
        if tag not in first:
            first[tag] = child
    raw_url = clean_text(first.get("url"))
    parts = canonicalise(raw_url)
    if raw_url is None or parts is None:
        return None
    passages = tuple(p for p in map(clean_text, passage_elements) if p)
    headline = clean_text(first.get("headline"))
    snippet = " ".join(passages) if passages else headline
    details = state.details
    return SerpDocument(
        url=raw_url,
        canonical_url=parts.url,
        domain=parts.domain,
        host=parts.host,
        title=clean_text(first.get("title")),
        snippet=snippet,
        passages=passages,
        headline=headline,
        position=position,
        page=state.page,
        rank_in_group=rank,
        group=group,
        yandex_domain=clean_text(first.get("domain")) if details else None,
        modtime=clean_text(first.get("modtime")) if details else None,
        lang=clean_text(lang) if details else None,
        mime_type=clean_text(first.get("mime-type")) if details else None,
        saved_copy_url=clean_text(first.get("saved-copy-url")) if details else None,
    )


def _group(group: Element, state: _State) -> None:
    position = state.position(state.groups)
    state.groups += 1
    categ = group.find("categ")  # plain tags: `find`/`findall` scan the children in C
    name = categ.get("name") if categ is not None else None
    document = _lean_tuple if state.tuples else _document if state.details else _lean_document
    for rank, doc in enumerate(group.findall("doc"), start=1):
        parsed = document(doc, state, position, rank, name or None)
        if parsed is None:
            state.skipped += 1
        else:
            state.documents.append(parsed)


def _on_end(element: Element, parent: Element | None, state: _State) -> None:
    tag = element.tag
    parent_tag = parent.tag if parent is not None else ""
    if tag == "group" and parent_tag == "grouping":
        _group(element, state)
        parent.remove(element)  # type: ignore[union-attr]  # streaming: keep one group in memory
    elif tag == "request":
        state.request_page = _int(element.findtext("page"))
        state.query = clean_text(element.find("query"))
        groupby = element.find("groupings/groupby")
        if groupby is not None:
            state.request_gop = _int(groupby.get("groups-on-page"))
    elif tag == "page" and parent_tag == "grouping":
        state.page_first = _int(element.get("first"))
        state.page_text = _int(element.text)
    elif tag == "error" and parent_tag == "response":
        state.error_seen = True
        state.error_code = _int(element.get("code"))
        state.error_message = clean_text(element)
    elif tag == "reqid" and parent_tag == "response":
        state.reqid = clean_text(element)
    elif tag == "found" and parent_tag == "response" and element.get("priority", "all") == "all":
        state.found = _int(element.text)
    elif tag == "found-human" and parent_tag == "response":
        state.found_human = clean_text(element)


def _stream(data: bytes, state: _State) -> None:
    stack: list[Element] = []
    for event, element in iterparse(io.BytesIO(data), events=("start", "end")):
        if event == "start":
            element.tag = _local(element.tag)
            if not stack:
                if element.tag != ROOT_TAG:
                    raise SerpParseError(None, f"root element is <{element.tag}>, expected <{ROOT_TAG}>")
            elif stack[-1].tag == ROOT_TAG and element.tag == "response":
                state.date = element.get("date")
            elif element.tag == "grouping":
                state.grouping_gop = _int(element.get("groups-on-page"))
            stack.append(element)
            continue
        stack.pop()
        _on_end(element, stack[-1] if stack else None, state)


def _tree_safe(data: bytes) -> bool:
    """True when the payload cannot declare an entity: UTF-8/ASCII bytes without DOCTYPE or ENTITY."""
    if len(data) > TREE_MAX_BYTES or data[:1] != b"<" or data[1:2] == b"\x00":
        return False
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return False
    declared = XML_DECL_ENCODING_VALUE_RE.match(data)
    return declared is None or declared.group(1).lower() in TREE_ENCODINGS


def _plain_groups(data: bytes) -> bool:
    """True when no element inside a result group can change the page: no namespace anywhere, and no
    <request>, <response> or <grouping> after the first <group> (the only tags `_on_end` reads there)."""
    if b"xmlns" in data:
        return False
    group = GROUP_START_RE.search(data)
    first = group.start() if group is not None else -1
    return (
        first < 0 or max(data.rfind(b"<request"), data.rfind(b"<response"), data.rfind(b"<grouping")) < first
    )


def _walk(element: Element, state: _State, plain_groups: bool) -> None:
    """The events of `_stream`, in the same order, over an already built tree (children of `element`); with
    `plain_groups`, a group's own elements are not visited (nothing in them acts on the page)."""
    parent_tag = element.tag
    for child in list(element):  # a copy: `_on_end` removes each group from its grouping
        tag = child.tag
        if tag[:1] == "{":
            child.tag = tag = _local(tag)
        if tag == "response" and parent_tag == ROOT_TAG:
            state.date = child.get("date")
        elif tag == "grouping":
            state.grouping_gop = _int(child.get("groups-on-page"))
        if len(child) and not (plain_groups and tag == "group"):
            _walk(child, state, plain_groups)
        if tag in ACTIVE_END_TAGS:
            _on_end(child, element, state)


def _tree(data: bytes, details: bool = True, tuples: bool = False) -> _State | None:
    """The page's state through the tree path, or None when the streaming parser must decide."""
    if not _tree_safe(data):
        return None
    try:
        parser = XMLParser()  # noqa: S314 - `_tree_safe` admits no DTD, so no entity can be declared
        parser.feed(data)
        root = parser.close()
        if root.tag[:1] == "{":
            root.tag = _local(root.tag)
        if root.tag != ROOT_TAG:
            return None
        state = _State(details=details, tuples=tuples)
        _walk(root, state, _plain_groups(data))
    except Exception:  # every failure is reported by the streaming parser, with its message
        return None
    return state


def _parse(payload: bytes | str, details: bool, tuples: bool) -> _State:
    """The state of a parsed page without a response-level error (error 15 aside); raises SerpParseError."""
    data = _as_bytes(payload)
    if not data.strip():
        raise SerpParseError(None, "empty payload")
    state = _tree(data, details, tuples)
    try:
        if state is None:
            state = _State(details=details, tuples=tuples)
            _stream(data, state)
    except SerpParseError:
        raise
    except ParseError as exc:
        raise SerpParseError(None, f"invalid XML: {exc}") from exc
    except DefusedXmlException as exc:
        raise SerpParseError(None, f"forbidden XML construct: {type(exc).__name__}") from exc
    except (ValueError, LookupError, UnicodeError, RecursionError) as exc:
        raise SerpParseError(None, f"unreadable XML: {exc}") from exc
    if state.error_seen and state.error_code != NO_RESULTS_CODE:
        message = (state.error_message or "no message")[:MAX_MESSAGE_CHARS]
        if state.error_code is None:
            message = f"response <error> without a numeric code: {message}"
        raise SerpParseError(state.error_code, message)
    return state


def parse_lean(payload: bytes | str, /) -> tuple[list[LeanDocument], int]:
    """`parse_serp(payload, details=False)`'s documents as `LeanDocument` tuples (no object per document), and its
    `skipped_invalid_url`; raises what `parse_serp` raises."""
    state = _parse(payload, False, True)
    return state.documents, state.skipped


def parse_serp(payload: bytes | str, /, *, details: bool = True) -> SerpPage:
    """Parse one Yandex XML response page.

    Returns a `SerpPage` (empty for error 15, "no results"); documents without an http(s) URL are skipped and
    counted. Raises `SerpParseError` for malformed XML, forbidden constructs (DTD entities, external references),
    a foreign root element, or a response-level `<error>` with any other code. With `details=False` the fields
    nothing stores (yandex_domain, modtime, lang, mime_type, saved_copy_url) are left None.
    """
    state = _parse(payload, details, False)
    return SerpPage(
        documents=tuple(state.documents),
        page=state.page,
        groups_on_page=state.groups_on_page,
        query=state.query,
        reqid=state.reqid,
        date=state.date,
        found=0 if state.error_seen else state.found,
        found_human=state.found_human,
        skipped_invalid_url=state.skipped,
        error_code=state.error_code if state.error_seen else None,
        error_message=state.error_message if state.error_seen else None,
        groups=state.groups,
    )
