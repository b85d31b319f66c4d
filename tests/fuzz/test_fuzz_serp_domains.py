"""Hypothesis fuzzing of SERP parsing and domain canonicalisation beyond issue 5's own property tests.

tests/serp/test_parse.py fuzzes random bytes and XML-ish token soup, and checks billion laughs; tests/test_domains.py
checks idempotence and cleanliness. Here: realistic pages from the sandbox renderer mutated (truncated, bytes
flipped, junk spliced in), external entities that point at a real file, and URL spellings an attacker controls
(userinfo, ports, case, trailing dots, IDN) that must never change which company a URL belongs to.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from leadgen.domains import canonical_domain
from leadgen.errors import SerpParseError
from leadgen.serp.parse import parse_serp
from leadgen_sandbox.serp_xml import SerpSpec, render_serp_xml

FUZZ = hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
PAGES = [
    render_serp_xml(SerpSpec(query=q, region=r, groups_on_page=20, docs_in_group=2), now=NOW)
    for q, r in [("окна пвх контакты", "213"), ("стоматология казань", "43"), ("dental clinic", "2")]
]


def check(payload: bytes) -> None:
    try:
        page = parse_serp(payload)
    except SerpParseError:
        return
    for doc in page.documents:
        assert doc.url.lower().startswith(("http://", "https://"))
        assert doc.domain is None or doc.domain == canonical_domain(doc.domain)


@FUZZ
@given(page=st.sampled_from(PAGES), cut=st.integers(min_value=0, max_value=100_000))
def test_truncated_pages(page: bytes, cut: int) -> None:
    check(page[: cut % (len(page) + 1)])


@FUZZ
@given(page=st.sampled_from(PAGES), edits=st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=12)), max_size=8))  # fmt: skip
def test_pages_with_junk_spliced_in(page: bytes, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(page)
    for at, junk in edits:
        i = at % (len(data) + 1)
        data[i : i + len(junk)] = junk
    check(bytes(data))


@FUZZ
@given(
    url=st.one_of(
        st.just("javascript:alert(1)"),
        st.just("file:///etc/passwd"),
        st.text(max_size=80),
        st.from_regex(r"(https?|ftp|data|gopher)://[^<>&\s]{0,40}", fullmatch=True),
    )
)
def test_hostile_result_urls_are_skipped_or_http(url: str) -> None:
    from xml.sax.saxutils import escape

    xml = PAGES[0].decode().replace("<url>", f"<url>{escape(url)}", 1).encode()
    check(xml)


def test_external_entities_are_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    for doctype in (
        f'<!DOCTYPE y [<!ENTITY xxe SYSTEM "file://{secret}">]>',
        f'<!DOCTYPE y SYSTEM "file://{secret}">',
        '<!DOCTYPE y [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>',
    ):
        payload = PAGES[0].decode().replace("<yandexsearch", doctype + "<yandexsearch", 1)
        payload = payload.replace("<title>", "<title>&xxe;", 1)
        with pytest.raises(SerpParseError) as info:
            parse_serp(payload.encode())
        assert "TOP-SECRET" not in str(info.value)


HOSTS = st.sampled_from(["romashka.ru", "okna-msk.ru", "пример.рф", "clinic.co.uk", "shop.example.com"])


@FUZZ
@given(
    host=HOSTS,
    scheme=st.sampled_from(["http://", "https://", "HTTP://", "", "//"]),
    userinfo=st.sampled_from(["", "user@", "user:pw@", "evil.com@", "a@b.ru:x@"]),
    www=st.sampled_from(["", "www.", "WWW.", "m."]),
    port=st.sampled_from(["", ":80", ":443", ":8080"]),
    dot=st.sampled_from(["", "."]),
    tail=st.sampled_from(["", "/", "/kontakty?utm_source=yandex#top", "?q=evil.com", "/@evil.com"]),
    upper=st.booleans(),
)
def test_url_spellings_never_change_the_company(host: str, scheme: str, userinfo: str, www: str, port: str, dot: str, tail: str, upper: bool) -> None:  # fmt: skip
    spelled = (www + host).upper() if upper else www + host
    if not scheme:
        userinfo = port = ""  # a bare host cannot carry them
    url = f"{scheme}{userinfo}{spelled}{dot}{port}{tail}"
    got = canonical_domain(url)
    if scheme.lower() in ("http://", "https://"):
        assert got == canonical_domain(host), url
    else:  # a bare or scheme-relative spelling may be refused as "not a lead", never read as another domain
        assert got in (canonical_domain(host), None), url
