"""Hypothesis fuzzing of contact extraction with hostile structure (beyond issue 6's random bytes and HTML soup).

tests/contacts/test_extract.py feeds random bytes and shuffled HTML pieces. Here the hostile parts are the
structured sources the extractor trusts most: Cloudflare `data-cfemail` with broken hex, JSON-LD nested a
thousand deep or holding every JSON type, microdata with absurd values, declared charsets that lie, and
base URLs that are not URLs. The property: contacts are returned (possibly none), never an exception, and every
email's local part appears in the decoded input.
"""

from __future__ import annotations

import html as htmllib
import json

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from leadgen.contacts.extract import analyse_page, extract_contacts

FUZZ = hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | text,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["email", "telephone", "@type", "contactPoint", "address", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@FUZZ
@given(hex_=st.text(alphabet="0123456789abcdefXYZ-", max_size=80), extra=text)
def test_cfemail_with_any_hex(hex_: str, extra: str) -> None:
    page = f'<a href="/cdn-cgi/l/email-protection#{hex_}"><span class="__cf_email__" data-cfemail="{hex_}">[email&#160;protected]</span></a>{htmllib.escape(extra)}'  # fmt: skip
    extract_contacts(page, base_url="https://firma.ru/")


@FUZZ
@given(data=json_values, depth=st.integers(0, 1200))
def test_jsonld_of_any_shape_and_depth(data: object, depth: int) -> None:
    nested = json.dumps(data, ensure_ascii=False, allow_nan=True)
    deep = "[" * depth + nested + "]" * depth
    for blob in (nested, deep, deep[: len(deep) // 2]):
        page = f'<script type="application/ld+json">{blob}</script><p>info@firma.ru</p>'
        found = extract_contacts(page, base_url="https://firma.ru/")
        assert any(c.value == "info@firma.ru" for c in found)


@FUZZ
@given(value=text, prop=st.sampled_from(["email", "telephone", "faxNumber", "url"]))
def test_microdata_with_any_value(value: str, prop: str) -> None:
    page = f'<div itemscope itemtype="https://schema.org/Organization"><span itemprop="{prop}">{htmllib.escape(value)}</span><meta itemprop="{prop}" content="{htmllib.escape(value, quote=True)}"></div>'  # fmt: skip
    extract_contacts(page, base_url="https://firma.ru/")


@FUZZ
@given(
    body=st.binary(max_size=400),
    declared=st.sampled_from(
        ["utf-8", "windows-1251", "koi8-r", "utf-16", "x-unknown", "", "utf-8; q=bogus"]
    ),
    base=st.sampled_from(
        ["", "https://firma.ru/", "not a url", "http://[::1", "javascript:alert(1)", "https://пример.рф/"]
    ),
)
def test_lying_charsets_and_odd_base_urls(body: bytes, declared: str, base: str) -> None:
    page = b'<meta charset="' + declared.encode() + b'"><p>' + body + b" sales@firma.ru</p>"
    analysis = analyse_page(page, base_url=base, content_type=f"text/html; charset={declared}")
    for contact in analysis.contacts:
        assert contact.kind in ("email", "phone")
