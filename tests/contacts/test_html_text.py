"""Charset decoding (header, meta, sniffing, truncation) and visible-text rendering."""

from __future__ import annotations

import codecs

import pytest

from leadgen.contacts.html_text import declared_charset, decode_html, extract_text

RUSSIAN = "<html><body><p>Контакты: Москва, ул. Тверская, 7. Телефон и почта ниже.</p></body></html>"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("text/html; charset=windows-1251", "cp1251"),
        ("text/html; charset=UTF-8", "utf-8"),
        ('text/html; charset="koi8-r"', "koi8-r"),
        ("text/html;charset=cp1251", "cp1251"),
        ("text/html; charset=iso-8859-1", "cp1252"),
        ("text/html", None),
        ("text/html; charset=bogus-charset", None),
        (None, None),
    ],
)
def test_declared_charset(header: str | None, expected: str | None) -> None:
    assert declared_charset(header) == expected


def test_header_charset() -> None:
    body = RUSSIAN.encode("cp1251")
    assert decode_html(body, content_type="text/html; charset=windows-1251") == RUSSIAN


@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="windows-1251">',
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
    ],
)
def test_meta_charset(meta: str) -> None:
    page = f"<html><head>{meta}</head>{RUSSIAN[6:]}"
    assert decode_html(page.encode("cp1251"), content_type="text/html") == page


def test_misdeclared_utf8_falls_back_to_meta_or_sniffing() -> None:
    page = '<html><head><meta charset="windows-1251"></head>' + RUSSIAN[6:]
    assert decode_html(page.encode("cp1251"), content_type="text/html; charset=utf-8") == page
    bare = RUSSIAN * 5
    assert decode_html(bare.encode("cp1251"), content_type="text/html; charset=utf-8") == bare


@pytest.mark.parametrize("encoding", ["cp1251", "koi8_r"])
def test_sniffing_undeclared_cyrillic(encoding: str) -> None:
    page = RUSSIAN * 8
    assert decode_html(page.encode(encoding)) == page


def test_bom_wins() -> None:
    assert (
        decode_html(codecs.BOM_UTF8 + RUSSIAN.encode(), content_type="text/html; charset=cp1251") == RUSSIAN
    )


def test_body_cut_inside_a_character() -> None:
    body = RUSSIAN.encode("utf-8")
    cut = body[: body.index("Москва".encode()) + 3]  # ends in the middle of "о"
    text = decode_html(cut, content_type="text/html; charset=utf-8")
    assert text.endswith("Контакты: М")


def test_visible_text_blocks_and_hidden_parts() -> None:
    page = """<html><head><title>T</title><style>p{}</style></head><body>
    <table><tr><td>info@firma.ru</td><td>+7 495 123-45-67</td></tr></table>
    <script>var hidden = "x@y.ru"</script><noscript>no js</noscript><!-- comment -->
    <p>Раз<b>два</b> три&nbsp;четыре</p><textarea>draft</textarea></body></html>"""
    text = extract_text(page)
    assert text.splitlines() == ["info@firma.ru", "+7 495 123-45-67", "Раздва три четыре"]


def test_extract_text_from_bytes_and_limit() -> None:
    assert extract_text(RUSSIAN.encode("cp1251"), content_type="text/html; charset=cp1251").startswith(
        "Контакты"
    )
    assert len(extract_text(RUSSIAN, max_chars=10)) == 10
