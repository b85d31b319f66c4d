"""Extraction: saved Russian company pages scored against expectations, tables per rule, properties."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadgen.contacts.emails import (
    decode_cfemail,
    deobfuscate,
    emails_from_mailto,
    encode_cfemail,
    find_emails,
    normalise_email,
)
from leadgen.contacts.extract import analyse_page, extract_contacts
from leadgen.contacts.phones import find_phones, phone_from_tel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contacts"
PAGES = sorted(FIXTURES.glob("*.html"))


def _expected(page: Path) -> dict[str, object]:
    return json.loads(page.with_name(page.stem + ".expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_fixture_pages(page: Path) -> None:
    expected = _expected(page)
    content_type = expected.get("content_type")
    contacts = extract_contacts(
        page.read_bytes(),
        base_url=str(expected["url"]),
        content_type=str(content_type) if content_type else None,
    )
    emails = {c.value for c in contacts if c.kind == "email" and not c.web_studio}
    phones = {c.value for c in contacts if c.kind == "phone"}
    studio = {c.value for c in contacts if c.web_studio}
    assert emails == set(expected["emails"])  # type: ignore[arg-type]
    assert phones == set(expected["phones"])  # type: ignore[arg-type]
    assert studio == set(expected["studio"])  # type: ignore[arg-type]
    values = {c.value for c in contacts}
    for absent in expected.get("absent", []):  # type: ignore[attr-defined]
        assert absent not in values
    by_value = {c.value: c for c in contacts}
    for value, source in dict(expected.get("sources", {})).items():  # type: ignore[call-overload]
        assert by_value[value].source == source
    for value, ext in dict(expected.get("extensions", {})).items():  # type: ignore[call-overload]
        assert by_value[value].extension == ext
    for c in contacts:
        assert c.page_url == expected["url"]
        assert c.quality <= 0.3 if c.web_studio else c.quality >= 0.6


def test_fixture_corpus_is_varied() -> None:
    assert len(PAGES) >= 12
    raw = b"".join(p.read_bytes() for p in PAGES)
    for needle in (b"data-cfemail", b"application/ld+json", b"itemprop", b"[at]", b"mailto:", b"tel:"):
        assert needle in raw


def test_quality_order_and_sources() -> None:
    page = """<html><body>
    <a href="mailto:boss@firma.ru">написать</a>
    <p>sales@firma.ru</p>
    <p>office [at] firma [dot] ru</p>
    <a href="tel:+74951112233">звонок</a>
    <p>Тел.: +7 (495) 111-22-44</p><p>495 111-22-55</p>
    </body></html>"""
    contacts = extract_contacts(page, base_url="https://firma.ru/")
    got = [(c.value, c.source, c.quality) for c in contacts]
    assert got == [
        ("boss@firma.ru", "mailto", 1.0),
        ("+74951112233", "tel", 0.9),
        ("sales@firma.ru", "text", 0.8),
        ("+74951112244", "text", 0.8),
        ("office@firma.ru", "obfuscated", 0.7),
        ("+74951112255", "text", 0.6),
    ]


def test_same_contact_keeps_best_source() -> None:
    page = '<p>info@firma.ru</p><a href="mailto:INFO@firma.ru">info@firma.ru</a>'
    [contact] = extract_contacts(page, base_url="https://firma.ru")
    assert (contact.value, contact.source, contact.quality, contact.same_site) == (
        "info@firma.ru",
        "mailto",
        1.0,
        True,
    )


def test_web_studio_needs_a_foreign_domain() -> None:
    page = """<footer><p>Тел. +7 (812) 600-00-01, <a href="mailto:info@firma.ru">info@firma.ru</a></p>
    <p>Создание сайта: <a href="mailto:web@studio.ru">web@studio.ru</a></p>
    <p>Создание сайта — наш отдел, <a href="mailto:it@firma.ru">it@firma.ru</a></p></footer>"""
    contacts = {c.value: c for c in extract_contacts(page, base_url="https://www.firma.ru/")}
    assert contacts["web@studio.ru"].web_studio and contacts["web@studio.ru"].quality == 0.3
    assert not contacts["it@firma.ru"].web_studio  # own domain: never the studio's
    assert not contacts["info@firma.ru"].web_studio


@pytest.mark.parametrize(
    ("credit", "studio"),
    [
        ("Разработка сайта — Студия", True),
        ("Сделано в digital-агентстве «Пиксель»", True),
        ("Сайт разработан компанией Вебпро", True),
        ("Продвижение сайтов", True),
        ("Website by Pixel", True),
        ("Бухгалтерия", False),
        ("Отдел продаж", False),
    ],
)
def test_web_studio_wording(credit: str, studio: bool) -> None:
    page = f"<div><p>{credit}: hello@pixel-agency.ru</p></div>"
    [contact] = extract_contacts(page, base_url="https://firma.ru/")
    assert contact.web_studio is studio


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("mailto:info@firma.ru", ["info@firma.ru"]),
        ("MAILTO:Info@Firma.RU", ["info@firma.ru"]),
        ("mailto:info@firma.ru?subject=Заявка&body=Здравствуйте", ["info@firma.ru"]),
        ("mailto:%20info%40firma.ru%20", ["info@firma.ru"]),
        ("mailto:a@firma.ru,b@firma.ru", ["a@firma.ru", "b@firma.ru"]),
        ("mailto:?to=sales@firma.ru&cc=buh@firma.ru", ["sales@firma.ru", "buh@firma.ru"]),
        ("mailto:info@xn--80aa2af5d.xn--p1ai", ["info@калач.рф"]),
        ("mailto:", []),
        ("mailto:your@email.com", []),
        ("mailto:not-an-address", []),
    ],
)
def test_mailto(href: str, expected: list[str]) -> None:
    assert emails_from_mailto(href) == expected


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("tel:+74951234567", ("+74951234567", None)),
        ("tel:84951234567", ("+74951234567", None)),
        ("tel:+7(495)123-45-67", ("+74951234567", None)),
        ("tel:+7%20495%20123-45-67", ("+74951234567", None)),
        ("tel:8-800-555-35-35;ext=12", ("+78005553535", "12")),
        ("tel:+74951234567,204", ("+74951234567", "204")),
        ("callto:+375171234567", ("+375171234567", None)),
        ("tel:123", None),
        ("tel:+7", None),
    ],
)
def test_tel_links(href: str, expected: tuple[str, str | None] | None) -> None:
    assert phone_from_tel(href) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Тел.: +7 (495) 123-45-67", ["+74951234567"]),
        ("8 800 555-35-35", ["+78005553535"]),
        ("8(812)123-45-67", ["+78121234567"]),
        ("+7 495 1234567", ["+74951234567"]),
        ("8 (8442) 12-34-56", ["+78442123456"]),
        ("+7-916-123-45-67", ["+79161234567"]),
        ("+7 (495) 123-45-67, +7 (495) 765-43-21", ["+74951234567", "+74957654321"]),
        ("8 800 555 35 35 8 495 123 45 67", ["+78005553535", "+74951234567"]),
        ("тел. 84951234567", ["+74951234567"]),
        ("+375 17 123-45-67", ["+375171234567"]),
        ("+7 495 123\u221245\u221267", ["+74951234567"]),
        ("Тел.:\u00a0+7\u00a0(495)\u00a0123-45-67", ["+74951234567"]),
        ("т./ф. (3452) 12-34-56", ["+73452123456"]),
        ("ИНН 7712345678", []),
        ("ИНН 771234567890", []),
        ("ОГРН 1027700132195", []),
        ("ОГРНИП 318774600123456", []),
        ("КПП 771201001", []),
        ("БИК 044525225", []),
        ("р/с 40702810938000012345", []),
        ("к/с 30101810400000000225", []),
        ("7712345678", []),
        ("84951234567", []),
        ("Дата: 12.03.2024", []),
        ("2024-03-12 18:30", []),
        ("Цена 1 500 000 руб.", []),
        ("Стоимость 8 900 123 45 67 руб.", []),
        ("Индекс 123456", []),
        ("Заказ № 12345678901", []),
        ("Заказ № 8 800 555 35 35", []),
        ("123-45-67", []),
        ("Формат: +7 (999) 999-99-99", []),
        ("+7 (000) 000-00-00", []),
        ("8 (912) 000-00-00", []),
        ("Пример: 8 (123) 456-78-90", []),
        ("8 800 555-55-55", ["+78005555555"]),
    ],
)
def test_text_phones(text: str, expected: list[str]) -> None:
    assert [p.value for p in find_phones(text)] == expected


@pytest.mark.parametrize(
    ("text", "value", "extension"),
    [
        ("+7 (495) 123-45-67 доб. 123", "+74951234567", "123"),
        ("+7 (495) 123-45-67, доб.123", "+74951234567", "123"),
        ("8 (495) 123-45-67 (доб. 45)", "+74951234567", "45"),
        ("+7 495 123-45-67 вн. 7", "+74951234567", "7"),
        ("+7 495 123-45-67 ext. 12", "+74951234567", "12"),
        ("+7 495 123-45-67 добавочный 3301", "+74951234567", "3301"),
    ],
)
def test_phone_extensions(text: str, value: str, extension: str) -> None:
    [phone] = find_phones(text)
    assert (phone.value, phone.extension) == (value, extension)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("info [at] firma [dot] ru", "info@firma.ru"),
        ("info[at]firma[dot]ru", "info@firma.ru"),
        ("info (at) firma (dot) ru", "info@firma.ru"),
        ("info(at)firma.ru", "info@firma.ru"),
        ("info {at} firma {dot} ru", "info@firma.ru"),
        ("info собака firma.ru", "info@firma.ru"),
        ("info собака firma точка ru", "info@firma.ru"),
        ("info @ firma.ru", "info@firma.ru"),
        ("info at firma dot ru", "info@firma.ru"),
        ("info [собака] firma [точка] ru", "info@firma.ru"),
        ("info @ firma . ru", "info@firma.ru"),
        ("info&nbsp;[at]&nbsp;firma&nbsp;[dot]&nbsp;ru", "info@firma.ru"),
    ],
)
def test_obfuscations(text: str, expected: str) -> None:
    [found] = find_emails(deobfuscate(html.unescape(text)))
    assert found.value == expected
    [contact] = extract_contacts(f"<p>Почта: {text}</p>", base_url="https://firma.ru")
    assert (contact.value, contact.source) == (expected, "obfuscated")


@pytest.mark.parametrize(
    "text", ["meet us at the office dot", "Contact us at firma.ru", "Приходите at 10:00"]
)
def test_plain_english_at_is_not_an_address(text: str) -> None:
    assert extract_contacts(f"<p>{text}</p>") == []


def test_html_entities() -> None:
    encoded = "".join(f"&#{ord(ch)};" for ch in "sales@firma.ru")
    page = f"<p>{encoded}</p><p>buh&#64;firma&period;ru</p><p>hr&commat;firma.ru</p>"
    values = {c.value for c in extract_contacts(page)}
    assert values == {"sales@firma.ru", "buh@firma.ru", "hr@firma.ru"}


@pytest.mark.parametrize(
    "email", ["info@firma.ru", "Director.Ivanov@Firma.RU", "a.b-c_d+e@sub.firma.ru", "zakaz@калач.рф"]
)
def test_cfemail_roundtrip(email: str) -> None:
    payload = encode_cfemail(email, key=0x42)
    assert decode_cfemail(payload) == normalise_email(email)
    assert decode_cfemail("/cdn-cgi/l/email-protection#" + payload) == normalise_email(email)


@pytest.mark.parametrize("payload", ["", "zz", "abc", "4242", "5a" + "ff" * 4])
def test_cfemail_garbage(payload: str) -> None:
    assert decode_cfemail(payload) is None


@pytest.mark.parametrize(
    "raw",
    [
        "logo@2x.png",
        "icon@3x.webp",
        "bg-image@1.5x.jpg",
        "style@main.css",
        "8a3f2c1d9e7b4a6f8c2d1e3f4a5b6c7d@o451203.ingest.sentry.io",
        "abc@sentry.io",
        "605a7baede844d278b89dc95ae0a9123@sentry-next.wixpress.com",
        "user@example.com",
        "info@example.ru",
        "your@email.com",
        "name@domain.com",
        "test@test.ru",
        "email@domain.ru",
        "ivanov@mail.ru",
        "user@yourdomain.ru",
        "info@yourcompany.ru",
        "noreply@firma.ru",
        "no-reply@firma.ru",
        "xxx@xxx.ru",
        "a@b",
        "info@@firma.ru",
        "info@firma..ru",
    ],
)
def test_junk_addresses_are_rejected(raw: str) -> None:
    assert normalise_email(raw) is None
    assert extract_contacts(f"<p>{raw}</p>") == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Info@Firma.Ru", "info@firma.ru"),
        ("zakaz@Калач-Пекарня.РФ", "zakaz@калач-пекарня.рф"),
        ("zakaz@xn----7sbaby0aeexqo2fvf.xn--p1ai", "zakaz@калач-пекарня.рф"),
        ("office.spb@yandex.ru", "office.spb@yandex.ru"),
    ],
)
def test_email_normalisation(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


def test_glued_text_is_split_at_script_change() -> None:
    assert [m.value for m in find_emails("Почта:info@firma.ruТелефон")] == ["info@firma.ru"]


def test_placeholders_in_form_attributes_are_ignored() -> None:
    page = """<form><input type="email" placeholder="mail@company.ru" value="client@firma.ru">
    <textarea placeholder="Сообщение">boss@firma.ru</textarea><select><option>opt@firma.ru</option></select></form>"""
    assert extract_contacts(page) == []


def test_jsonld_variants() -> None:
    page = """<script type="application/ld+json">[{"@type":"Organization","email":["a@firma.ru","mailto:b@firma.ru"],
    "contactPoint":[{"@type":"ContactPoint","telephone":"+7-495-111-22-33"}]},]</script>
    <script type="application/ld+json">{not json at all</script>"""
    values = {(c.value, c.source) for c in extract_contacts(page)}
    assert values == {("a@firma.ru", "jsonld"), ("b@firma.ru", "jsonld"), ("+74951112233", "jsonld")}


def test_analyse_page_returns_links_title_and_text() -> None:
    page = '<html><head><title> Ромашка </title></head><body><a href="/kontakty/">Контакты</a><p>Привет</p></body></html>'
    analysis = analyse_page(page, base_url="https://romashka.ru/index.php")
    assert analysis.title == "Ромашка"
    assert [(link.url, link.text) for link in analysis.links] == [
        ("https://romashka.ru/kontakty/", "Контакты")
    ]
    assert "Привет" in analysis.text


@pytest.mark.parametrize(
    "page", ["", "   ", "<", "<?xml version='1.0'?><html/>", "\x00\x00", "<html><body></body></html>"]
)
def test_degenerate_pages(page: str) -> None:
    assert extract_contacts(page) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_no_crash_on_arbitrary_bytes(data: bytes) -> None:
    for contact in extract_contacts(data, base_url="https://firma.ru/"):
        assert contact.kind in ("email", "phone")


HTML_PIECES = st.sampled_from(
    ["<p>", "</p>", "<div>", "</div>", "<a href='mailto:", "'>", "</a>", "<td>", "<br>", "<script>", "</script>",
     "@", ".", " ", "[at]", "(dot)", "собака", "+7", "(495)", "123-45-67", "8 800", "info", "firma", "ru", "рф",
     "&#64;", "&amp;", "<!--", "-->", "доб.", "ИНН", "\n", "<span data-cfemail='5a33'>", "tel:"]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(HTML_PIECES, st.text(max_size=8)), max_size=60))
def test_no_crash_and_local_parts_come_from_input(pieces: list[str]) -> None:
    page = "".join(pieces)
    source = html.unescape(page).lower()
    for contact in extract_contacts(page, base_url="https://firma.ru/"):
        if contact.kind == "email" and contact.source != "cfemail":
            assert contact.value.split("@")[0] in source
        if contact.kind == "phone":
            assert contact.value.startswith("+") and contact.value[1:].isdigit()


def test_link_hints_cover_every_candidate_rule() -> None:
    from leadgen.contacts.candidates import link_score
    from leadgen.contacts.extract import LINK_HINT_RE, Link

    samples = [
        ("/contacts/", ""), ("/kontakty", ""), ("/контакты", ""), ("/svyaz.html", ""), ("/rekvizity/", ""),
        ("/feedback", ""), ("/kak-proehat/", ""), ("/how-to-find/", ""), ("/adres", ""), ("/about-us", ""),
        ("/o-nas/", ""), ("/o_kompanii", ""), ("/о-нас", ""), ("/company/", ""), ("/x", "Связаться с нами"),
        ("/x", "Обратная связь"), ("/x", "Как нас найти"), ("/x", "Как проехать"), ("/x", "Реквизиты"),
        ("/x", "О компании"), ("/x", "Who we are"), ("/x", "Get in touch"), ("/x", "Where to find us"),
    ]  # fmt: skip
    for href, text in samples:
        assert link_score(Link("https://firma.ru" + href, text)) > 0, (href, text)
        assert LINK_HINT_RE.search(href) or LINK_HINT_RE.search(text), (href, text)


def test_structured_values_that_are_lists_or_labelled_text() -> None:
    page = """<script type="application/ld+json">{"@type": "LocalBusiness",
    "telephone": "+7 (495) 123-45-67, +7 (495) 765-43-21", "email": "info(at)firma.ru"}</script>
    <div itemscope itemtype="https://schema.org/Organization"><span itemprop="telephone">Тел.: 8 (812) 600-00-01</span>
    <a itemprop="email" href="mailto:sales@firma.ru">написать</a></div>"""
    values = {(c.value, c.source) for c in extract_contacts(page)}
    assert values == {
        ("+74951234567", "jsonld"), ("+74957654321", "jsonld"), ("info@firma.ru", "jsonld"),
        ("+78126000001", "microdata"), ("sales@firma.ru", "mailto"),
    }  # fmt: skip


def corpus_scores() -> dict[str, tuple[float, float, int]]:
    """Micro precision and recall of emails and phones over the labelled fixture pages: {kind: (p, r, n)}."""
    tallies = {"email": [0, 0, 0], "phone": [0, 0, 0]}  # true positives, found, expected
    for page in PAGES:
        expected = _expected(page)
        content_type = expected.get("content_type")
        contacts = extract_contacts(
            page.read_bytes(),
            base_url=str(expected["url"]),
            content_type=str(content_type) if content_type else None,
        )
        for kind, key in (("email", "emails"), ("phone", "phones")):
            want = set(expected[key])  # type: ignore[arg-type]
            got = {c.value for c in contacts if c.kind == kind and not c.web_studio}
            tally = tallies[kind]
            tally[0] += len(want & got)
            tally[1] += len(got)
            tally[2] += len(want)
    return {k: (tp / max(found, 1), tp / max(n, 1), n) for k, (tp, found, n) in tallies.items()}


def test_corpus_precision_and_recall() -> None:
    """The figures in docs/contacts.md; the goal is ≥ 0.97 for each kind on real-format pages."""
    scores = corpus_scores()
    print({k: f"P={p:.3f} R={r:.3f} n={n}" for k, (p, r, n) in scores.items()})
    for kind, (precision, recall, n) in scores.items():
        assert n >= 40, kind
        assert precision >= 0.97 and recall >= 0.97, (kind, precision, recall)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Почта: Zakaz@Калач-Пекарня.РФ, звоните", ["zakaz@калач-пекарня.рф"]),
        ("Иван.Петров@Пример-Завод.рф.", ["иван.петров@пример-завод.рф"]),
        ("mail: info@xn--80aaaywbhiionmfd6l.xn--p1ai;", ["info@уралстальмонтаж.рф"]),
        ("почта@техноагро.қаз", ["почта@техноагро.қаз"]),
        ("продажі@техноагро.укр", ["продажі@техноагро.укр"]),
        ("сбыт@завод.бел и иван@почта.рус", ["сбыт@завод.бел", "иван@почта.рус"]),
        ("müller@firma.de", ["müller@firma.de"]),
        ("sales_msk@firm.ru", ["sales_msk@firm.ru"]),
        ("Почтаinfo@firm.ruТелефон", ["info@firm.ru"]),  # a script switch ends the address on both sides
        ("E-mailпочта@завод.рфТел", ["почта@завод.рф"]),
        ("info@firm.ru.Телефон", ["info@firm.ru"]),
        ("ssh user@host; git@github.com:org/repo.git", []),
        ("logo@2x.png bg@3x.webp left-pad@1.3.0", []),
        ("имя@ваш-домен.рф, ваша.почта@пример.рф, иван@mail.ru", []),
        ("a.@b.ru", []),
    ],
)
def test_international_addresses_in_text(text: str, expected: list[str]) -> None:
    assert [m.value for m in find_emails(text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("мастер (собака) дубрава-мебель.рус", "мастер@дубрава-мебель.рус"),
        ("иван собака завод точка рф", "иван@завод.рф"),
        ("info [at] фирма [dot] рф", "info@фирма.рф"),
        ("продажи @ завод.рф", "продажи@завод.рф"),
    ],
)
def test_international_obfuscations(text: str, expected: str) -> None:
    assert [m.value for m in find_emails(deobfuscate(text))] == [expected]


def test_one_canonical_form_for_punycode_and_unicode() -> None:
    page = """<a href="mailto:%D0%B7%D0%B0%D0%BA%D0%B0%D0%B7@xn--80aaaywbhiionmfd6l.xn--p1ai">заказ</a>
    <p>ЗАКАЗ@Уралстальмонтаж.РФ</p><a href="mailto:info@XN--80AAAYWBHIIONMFD6L.XN--P1AI">info</a>
    <p>info@уралстальмонтаж.рф</p>"""
    got = [
        (c.value, c.source, c.same_site)
        for c in extract_contacts(page, base_url="https://уралстальмонтаж.рф/")
    ]
    assert got == [
        ("заказ@уралстальмонтаж.рф", "mailto", True),
        ("info@уралстальмонтаж.рф", "mailto", True),
    ]


def test_cfemail_and_mailto_in_legacy_encodings() -> None:
    assert decode_cfemail(encode_cfemail("мебель@дубрава.рус")) == "мебель@дубрава.рус"
    assert emails_from_mailto("mailto:%EF%F0%EE%E4%E0%E6%E8@%E7%E0%E2%EE%E4.%F0%F4") == ["продажи@завод.рф"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Found only by libphonenumber's matcher (a Latin extension glued to the number), on a labelled line.
        ("Phone: +7 495 123-45-67x12", [("+74951234567", "12")]),
        ("Fax +7 495 123 45 68ext 5", [("+74951234568", "5")]),
        # Not handed to the matcher: no phone word on the line.
        ("Office +7 495 123-45-67x12", []),
        # The matcher's finds go through the same rejections (requisites, prices).
        ("Тел. отдела: ИНН 7701234567x1", []),
        ("Тел.: 8 800 100 20 30 8 495 777 66 55", [("+78001002030", None), ("+74957776655", None)]),
    ],
)
def test_phone_matcher_fallback(text: str, expected: list[tuple[str, str | None]]) -> None:
    assert [(p.value, p.extension) for p in find_phones(text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zakaz@мебель.рфпишите нам", ["zakaz@мебель.рф"]),  # a word glued to a Cyrillic TLD
        ("info@сайт-компании.москва", ["info@сайт-компании.москва"]),
        ("иван@почта.кз", []),  # not a top-level domain
        ("info@firm.rucontacts", ["info@firm.ru"]),  # a Latin word glued to a zone of this market
        ("admin@server.local, root@host.lan, x@corp.internal, y@host.invalid", []),  # not public names
        ("w@firm.qaz", []),  # no 3-letter word after a known zone: not cut to .qa
    ],
)
def test_top_level_domains(text: str, expected: list[str]) -> None:
    assert [m.value for m in find_emails(text)] == expected


@pytest.mark.parametrize(
    ("url", "text", "expected"),
    [
        ("https://teplo.by/", "Тел.: 8 (017) 355-21-40", "+375173552140"),
        ("https://мебелькомфорт.бел/", "Тел.: 8 029 611 22 35", "+375296112235"),
        ("https://техноагро.укр/", "Тел.: 044 495-37-10", "+380444953710"),
        ("https://a.kz/", "Тел.: 8 (727) 339-41-20", "+77273394120"),
        ("https://firma.ru/", "Тел.: 8 (495) 123-45-67", "+74951234567"),
        ("", "Тел.: 8 (495) 123-45-67", "+74951234567"),
    ],
)
def test_phone_region_follows_the_site_zone(url: str, text: str, expected: str) -> None:
    assert [c.value for c in extract_contacts(f"<p>{text}</p>", base_url=url)] == [expected]


def test_phone_finders_compared_on_the_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped finder (scanner + matcher fallback) finds at least what each finder alone finds, with no more
    false numbers (the comparison table in docs/contacts.md)."""
    import leadgen.contacts.extract as extract_module
    from leadgen.contacts.phones import find_phones_matcher, find_phones_regex

    shipped = corpus_scores()["phone"]
    for finder in (find_phones_regex, find_phones_matcher):
        monkeypatch.setattr(extract_module, "find_phones", finder)
        alone = corpus_scores()["phone"]
        print(finder.__name__, alone)
        assert shipped[0] >= alone[0] and shipped[1] >= alone[1]
        assert alone[1] < 1.0  # each alone misses something the other finds


def test_decomposed_unicode_is_composed_before_search() -> None:
    import unicodedata

    page = "<p>Почта: " + unicodedata.normalize("NFD", "йошкар@завод-йод.рф") + "</p>"
    assert [c.value for c in extract_contacts(page)] == ["йошкар@завод-йод.рф"]
