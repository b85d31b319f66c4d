"""parse_serp on saved, realistic Yandex XML pages, plus hypothesis: it raises nothing but SerpParseError."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadgen.errors import SearchError, SerpParseError
from leadgen.serp import parse_serp
from tests.serp.conftest import FIXTURES, fixture_bytes


def test_first_page_documents_in_order() -> None:
    page = parse_serp(fixture_bytes("page0_moscow_windows.xml"))
    assert page.page == 0 and page.groups_on_page == 10 and page.groups == 10
    assert page.query == "lang:ru пластиковые окна москва контакты ~~ site:avito.ru"
    assert page.reqid == "1764120615123456-9876543210123456789-sas2-0101-XML"
    assert page.found == 412000 and page.date == "20261126T013015"
    assert [d.position for d in page.documents] == list(range(1, 11))
    first = page.documents[0]
    assert first.url.startswith("https://www.okna-stroy.ru/kontakty/?utm_source=yandex&utm_medium")
    assert first.canonical_url == "https://www.okna-stroy.ru/kontakty/"
    assert first.domain == "okna-stroy.ru"
    assert first.yandex_domain == "www.okna-stroy.ru"
    assert first.title == "Контакты — «ОкнаСтрой» пластиковые окна в Москве"
    assert first.headline == "Производство и установка окон ПВХ с 2004 года. Замер бесплатно."
    assert first.passages == (
        "Телефон: +7 (495) 123-45-67. Пластиковые окна от производителя, офис на Профсоюзной.",
        "Email: info@okna-stroy.ru, режим работы пн–сб 9:00–20:00.",
    )
    assert first.snippet == " ".join(first.passages)
    assert first.modtime == "20261002T101500" and first.lang == "ru" and first.mime_type == "text/html"
    assert first.saved_copy_url is not None and "&tld=ru&" in first.saved_copy_url


def test_idn_subdomains_mobile_and_tracking() -> None:
    docs = {d.position: d for d in parse_serp(fixture_bytes("page0_moscow_windows.xml")).documents}
    assert docs[3].domain == "окна-мастер.рф"  # punycode in the URL, Unicode stored
    assert docs[3].canonical_url == "https://окна-мастер.рф/"
    assert docs[5].domain == "oknadom.ru" and docs[5].canonical_url == "https://msk.oknadom.ru/ceny"
    assert docs[6].domain == "avito.ru"
    assert docs[7].canonical_url == "https://oknadom.ru/?from=yandex"  # yclid dropped, other params kept
    assert docs[8].domain == "okna-expert.com" and docs[8].title == "Окна Эксперт: окна в Москве"
    assert docs[8].snippet is None and docs[8].passages == ()
    # the same page twice on one SERP (two utm variants) is reported twice by the parser; ingest keeps one row
    assert docs[10].canonical_url == docs[1].canonical_url


def test_multi_doc_groups_missing_tags_and_invalid_urls() -> None:
    page = parse_serp(fixture_bytes("page2_multidoc_missing_tags.xml"))
    assert page.page == 2 and page.groups_on_page == 5
    assert page.skipped_invalid_url == 4  # blank url, missing url, javascript:, ftp://
    by_rank = [(d.position, d.rank_in_group, d.canonical_url) for d in page.documents]
    assert by_rank[:3] == [
        (11, 1, "https://dental-smile.spb.ru/"),
        (11, 2, "https://dental-smile.spb.ru/contacts/"),
        (11, 3, "https://dental-smile.spb.ru/"),
    ]
    assert {d.position for d in page.documents} == {11, 12, 14, 15}  # group 13 had no usable document
    zubnoi = next(d for d in page.documents if d.domain == "zubnoi.ru")
    assert zubnoi.title is None  # <title/>
    assert (
        zubnoi.snippet
        == zubnoi.headline
        == "Клиника «Зубной» — семейная стоматология на Васильевском острове."
    )
    assert page.documents[1].snippet is None and page.documents[1].headline is None
    assert page.documents[-1].group is None  # group without <categ>


def test_entities_cdata_and_whitespace() -> None:
    page = parse_serp(fixture_bytes("entities_and_whitespace.xml"))
    assert page.groups_on_page == 3 and page.page == 0
    first = page.documents[0]
    assert first.domain == "tk-строй.рф"
    assert first.canonical_url == "https://tk-строй.рф/o-kompanii?ref=main"
    assert first.title == 'ООО "ТК Строй" «кирпич» & блоки <оптом>'
    assert first.headline == "Поставки <b>кирпича</b> & газобетона"
    assert first.passages == ("Кирпич облицовочный и рядовой —— доставка поМоскве.",)
    second = page.documents[1]
    assert (
        second.canonical_url == "https://example-firm.com/path%20with%20space/"
        and second.title == "Example Firm"
    )
    ip_doc = page.documents[2]
    assert ip_doc.domain is None and ip_doc.canonical_url == "https://192.168.10.5:8080/admin"


def test_declared_windows_1251_is_decoded() -> None:
    page = parse_serp(fixture_bytes("cp1251_declared.xml"))
    assert [(d.domain, d.title) for d in page.documents] == [("окна.рф", "Окна в Москве")]


def test_text_input_with_declared_encoding() -> None:
    text = fixture_bytes("cp1251_declared.xml").decode("cp1251")
    assert parse_serp(text).documents[0].title == "Окна в Москве"


@pytest.mark.parametrize("name", ["no_results_15.xml", "empty_grouping.xml"])
def test_no_results_is_an_empty_page(name: str) -> None:
    page = parse_serp(fixture_bytes(name))
    assert page.documents == () and page.is_empty and page.skipped_invalid_url == 0


def test_error_15_is_reported_on_the_page() -> None:
    page = parse_serp(fixture_bytes("no_results_15.xml"))
    assert page.error_code == 15 and page.found == 0
    assert page.error_message == "Искомая комбинация слов нигде не встречается"


@pytest.mark.parametrize(
    ("name", "code", "kind", "text"),
    [
        ("error_18_page_cap.xml", 18, "request", "за пределами 1000"),
        ("error_32_daily_limit.xml", 32, "quota", "Limit of daily requests exceeded"),
        ("error_55_rps.xml", 55, "quota", "запросов в секунду"),
        ("error_without_code.xml", None, "malformed", "Unknown error"),
    ],
)
def test_response_errors_raise_with_code(name: str, code: int | None, kind: str, text: str) -> None:
    with pytest.raises(SerpParseError) as info:
        parse_serp(fixture_bytes(name))
    assert info.value.code == code and info.value.kind == kind
    assert text in info.value.message and text in str(info.value)
    assert isinstance(info.value, SearchError)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (fixture_bytes("malformed_truncated.xml"), "invalid XML"),
        (fixture_bytes("html_instead_of_xml.html"), "expected <yandexsearch>"),
        (fixture_bytes("xxe_entity.xml"), "forbidden XML construct"),
        (b"", "empty payload"),
        (b"   \n", "empty payload"),
        (b"not xml at all", "invalid XML"),
        (b"<html><body>ok</body></html>", "expected <yandexsearch>"),
        (b'{"rawData": "PHhtbD4="}', "invalid XML"),
        (b"<yandexsearch><response><results></yandexsearch>", "invalid XML"),
        (
            '<?xml version="1.0" encoding="utf-8"?><yandexsearch>\udcff</yandexsearch>'.encode(
                "utf-8", "surrogatepass"
            ),
            "XML",
        ),
        (b'<?xml version="1.0" encoding="no-such-codec"?><yandexsearch/>', "XML"),
        (b"\xff\xfe\x00garbage", "XML"),
    ],
)
def test_malformed_payloads_raise(payload: bytes, fragment: str) -> None:
    with pytest.raises(SerpParseError) as info:
        parse_serp(payload)
    assert info.value.code is None and info.value.kind == "malformed"
    assert fragment in str(info.value)


def test_billion_laughs_is_refused_quickly() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
            for i in range(1, 10)
        )
        + b"]><yandexsearch>&lol9;</yandexsearch>"
    )
    with pytest.raises(SerpParseError, match="forbidden"):
        parse_serp(bomb)


def test_namespaced_tags_are_tolerated() -> None:
    xml = (
        b'<y:yandexsearch xmlns:y="urn:x"><y:response><y:results><y:grouping groups-on-page="10">'
        b"<y:group><y:doc><y:url>https://firm.ru/</y:url><y:title>Firm</y:title></y:doc></y:group>"
        b"</y:grouping></y:results></y:response></y:yandexsearch>"
    )
    assert [d.domain for d in parse_serp(xml).documents] == ["firm.ru"]


def test_large_page_is_parsed() -> None:
    groups = "".join(
        f"<group><categ attr='d' name='firm{i}.ru'/><doc><url>https://www.firm{i}.ru/?utm_source=y</url>"
        f"<title>Фирма <hlword>{i}</hlword></title><passages><passage>текст {i}</passage></passages></doc></group>"
        for i in range(5000)
    )
    xml = f"<yandexsearch><request><page>3</page></request><response><results><grouping groups-on-page='100'>{groups}</grouping></results></response></yandexsearch>"
    page = parse_serp(xml.encode())
    assert len(page.documents) == 5000
    assert page.documents[0].position == 301 and page.documents[-1].domain == "firm4999.ru"


XMLISH = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "<yandexsearch>",
                "</yandexsearch>",
                "<response>",
                "</response>",
                "<results>",
                "</results>",
                "<grouping groups-on-page='x'>",
                "<grouping groups-on-page='10'>",
                "</grouping>",
                "<group>",
                "</group>",
                "<doc>",
                "</doc>",
                "<url>",
                "</url>",
                "<title>",
                "</title>",
                "<hlword>",
                "</hlword>",
                "<passages>",
                "<passage>",
                "</passage>",
                "</passages>",
                "<error code='15'>",
                "<error code='x'>",
                "<error>",
                "</error>",
                "<page first='-1'>",
                "</page>",
                "<request>",
                "</request>",
                "&amp;",
                "&lt;",
                "&bogus;",
                "<![CDATA[x]]>",
                "<!DOCTYPE y>",
                "https://a.ru/",
                "http://[::1/",
                "пример.рф",
                " ",
                "<?xml version='1.0'?>",
                "\x00",
                "<categ name='a'/>",
            ]
        ),
        st.text(max_size=8),
    ),
    max_size=40,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), XMLISH.map("".join)))
def test_parser_raises_nothing_but_serp_parse_error(payload: bytes | str) -> None:
    try:
        page = parse_serp(payload)
    except SerpParseError:
        return
    for doc in page.documents:
        assert doc.canonical_url.startswith("https://")
        assert doc.position >= 1


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_titles_never_keep_markup_or_double_spaces(title: str) -> None:
    from xml.sax.saxutils import escape

    xml = (
        "<yandexsearch><response><results><grouping><group><doc><url>https://firm.ru/</url>"
        f"<title>{escape(title)} <hlword>{escape(title)}</hlword></title></doc></group></grouping></results></response></yandexsearch>"
    )
    try:
        page = parse_serp(xml)
    except SerpParseError:
        return  # control characters are not XML
    text = page.documents[0].title
    assert text is None or ("  " not in text and text == text.strip() and "<hlword>" not in text)


def _both_paths(data: bytes) -> tuple[object, object]:
    """(tree path state, streaming state) of one payload; None for a path that refused or raised."""
    from leadgen.serp.parse import _State, _stream, _tree

    stream: _State | None = _State()
    try:
        _stream(data, stream)
    except Exception:  # the streaming parser's errors are compared as "no state"
        stream = None
    return _tree(data), stream


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.xml")))
def test_tree_path_gives_what_the_streaming_parser_gives(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    tree, stream = _both_paths(data)
    if name.startswith(("page", "entities", "empty", "no_results", "error_")):
        assert tree is not None  # plain UTF-8 pages take the tree path
    if tree is not None:  # the tree path served it: every field of the page must agree
        assert tree == stream


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(XMLISH.map("".join))
def test_tree_path_agrees_with_the_streaming_parser(payload: str) -> None:
    data = payload.encode("utf-8", "surrogatepass")
    tree, stream = _both_paths(data)
    if tree is not None:
        assert tree == stream


def test_tree_path_serves_plain_utf8_pages_only() -> None:
    from leadgen.serp.parse import _tree_safe

    page = b'<?xml version="1.0" encoding="utf-8"?><yandexsearch/>'
    assert _tree_safe(page) and _tree_safe(b"<yandexsearch/>")
    assert not _tree_safe(b'<?xml version="1.0" encoding="windows-1251"?><yandexsearch/>')
    assert not _tree_safe(b"<!DOCTYPE y><yandexsearch/>")
    assert not _tree_safe("<yandexsearch/>".encode("utf-16"))


def test_details_false_leaves_only_the_unstored_fields_out() -> None:
    from dataclasses import replace

    data = fixture_bytes("page0_moscow_windows.xml")
    full, lean = parse_serp(data), parse_serp(data, details=False)
    assert any(d.modtime or d.mime_type or d.yandex_domain for d in full.documents)
    unstored = dict(yandex_domain=None, modtime=None, lang=None, mime_type=None, saved_copy_url=None)
    assert lean == replace(full, documents=tuple(replace(d, **unstored) for d in full.documents))


def _lean_or_error(payload: bytes | str) -> object:
    from leadgen.serp.parse import parse_lean

    try:
        return parse_lean(payload)
    except SerpParseError as exc:
        return str(exc)


def _serp_or_error(payload: bytes | str) -> object:
    from dataclasses import astuple

    try:
        page = parse_serp(payload, details=False)
    except SerpParseError as exc:
        return str(exc)
    return [astuple(d)[:12] for d in page.documents], page.skipped_invalid_url


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.xml")))
def test_lean_tuples_are_the_lean_documents(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    assert _lean_or_error(data) == _serp_or_error(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(XMLISH.map("".join))
def test_lean_tuples_agree_with_parse_serp_on_any_input(payload: str) -> None:
    assert _lean_or_error(payload) == _serp_or_error(payload)
