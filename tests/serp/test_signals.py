"""Directory signals in a result itself: one test case per rule, and the company pages each rule must leave alone."""

from __future__ import annotations

import pytest

from leadgen.domains import canonicalise
from leadgen.serp.signals import (
    domain_signal,
    host_signal,
    path_signal,
    result_signal,
    snippet_signal,
    title_signal,
)


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("74.ru", "portal:city"),  # number of the region: the city-portal network
        ("24.kg", "portal:city"),
        ("kazan24.ru", "portal:city"),
        ("mykazan.ru", "portal:city"),
        ("gorodomsk.ru", "portal:city"),
        ("minsk-online.by", "portal:city"),
        ("almaty.tv", "portal:city"),
        ("казань.рф", "portal:city"),
        ("news.okna-plus.ru", "portal:news"),  # a news subdomain
        ("forum.remont.ru", "qa"),
        ("gorodskie-vesti.ru", "portal:news"),
        ("novosti-regiona.ru", "portal:news"),
        ("regiongazeta.ru", "portal:news"),
        ("gruzobirzha.ru", "freight"),
        ("transbirzha.kz", "freight"),
        ("obyavleniya-uz.uz", "classifieds"),
        ("baraholka-minsk.by", "classifieds"),
        ("rabota-kazan.ru", "jobs"),
        ("vakansii-omsk.ru", "jobs"),
        ("voprosy-pravo.ru", "qa"),
        ("urist-online-ekb.ru", "qa"),  # legal advice lead sites
        ("online-jurist24.ru", "qa"),
        ("otzyvy-kazan.ru", "directory:host"),
        ("отзывы-о-компаниях.рф", "directory:host"),
        ("spravochnik-rf.ru", "directory:host"),
        ("yellowpages.uz", "directory:host"),
        ("vse-firmy-kazan.ru", "directory:host"),
        ("bizrating.kz", "directory:host"),
        # companies
        ("okna-kazan.ru", None),
        ("kazan-okna.ru", None),
        ("okna24.ru", None),
        ("remont-24.ru", None),
        ("buh-inform.ru", None),  # "-Информ" is a common company name
        ("luchshie-okna.ru", None),
        ("investstroy.ru", None),  # not "vesti"
        ("obrabotka-metalla.ru", None),  # not "rabota"
        ("doska-obreznaya.ru", None),  # a timber yard selling boards, not a board of ads
        ("forum-avto.ru", None),  # a car dealer called Forum
        ("yurist-ekb.com", None),  # a law firm
        ("advokat-ivanov66.ru", None),
        ("www.okna-plus.ru", None),
        ("окна-мастер.рф", None),
        ("potolki.tilda.ws", None),
    ],
)
def test_host(host: str, reason: str | None) -> None:
    parts = canonicalise(f"https://{host}/")
    assert parts is not None
    assert host_signal(parts.host, parts.domain) == reason


def test_domain_signal_is_cached_per_domain() -> None:
    assert domain_signal("74.ru") == "portal:city" and host_signal(None, None) is None


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/search?q=okna", "directory:path"),
        ("/?text=okna+kazan", "directory:path"),
        ("/poisk/okna/", "directory:path"),
        ("/kazan/firm/70000001234567", "directory:path"),
        ("/org/okna-plyus-1234567/", "directory:path"),
        ("/company/okna_plus/123456/", "directory:path"),
        ("/reviews/okna-plus-12345/", "directory:path"),
        ("/msk/firms/okna/", "directory:path"),
        ("/companies/kazan/okna/", "directory:path"),
        ("/top/kazan/okna/", "directory:path"),
        ("/inn/1655123456", "directory:path"),
        ("/question/123456/", "qa"),
        ("/voprosy/98765/", "qa"),
        ("/vacancy/12345", "jobs"),
        ("/kazan/rabota/voditel/", "jobs"),
        ("/obyavleniya/minsk/okna/", "classifieds"),
        ("/board/98765", "classifieds"),
        ("/birzha/cargo/123456", "freight"),
        ("/2026/02/10/bankrotstvo-rastet/", "portal:news"),  # a dated article
        ("/text/economics/2026/03/11/73456789/", "portal:news"),
        # a company's own pages
        ("/", None),
        ("/company/", None),
        ("/company/about/", None),
        ("/company/news/12345/", None),  # Bitrix' company news
        ("/catalog/okna/12345/", None),  # a shop's product card
        ("/catalog/pvh-okna/", None),
        ("/otzyvy/", None),
        ("/otzyvy/123/", None),  # one review on the company's own site
        ("/reviews/video/", None),
        ("/kontakty/", None),
        ("/vacancies/", None),
        ("/moskva/", None),
        ("/proizvoditeli/rehau/", None),
        ("/uslugi/?page=2", None),
        ("/news/2026-novinki/", None),
        ("/catalog/2026/", None),
    ],
)
def test_path(path: str, reason: str | None) -> None:
    parts = canonicalise(f"https://site.ru{path}")
    assert parts is not None
    assert path_signal(parts.url) == reason


@pytest.mark.parametrize(
    ("title", "reason"),
    [
        ("Пластиковые окна в Казани — адреса и телефоны на карте", "directory:title"),
        ("Окна: все компании Минска", "directory:title"),
        ("Каталог компаний: грузоперевозки, Самара", "directory:title"),
        ("Транспортные компании Новосибирска — список и телефоны", "directory:title"),
        ("Справочник организаций Алматы: стоматологии", "directory:title"),
        ("Автосервисы в Москве — 1 245 организаций", "directory:title"),
        ("Грузоперевозки: 86 перевозчиков Ташкента", "directory:title"),
        ("ТОП-10 лучших стоматологий Казани 2026", "directory:title"),
        ("Лучшие автосервисы в Екатеринбурге", "directory:title"),
        ("Где заказать натяжные потолки в Самаре — рейтинг, адреса", "directory:title"),
        ("ООО «Вектор», ИНН 1655123456 — Казань", "directory:title"),
        ("Top 10 dentists in Almaty", "directory:title"),
        ("Best car service in Minsk — reviews", "directory:title"),
        ("Окна Плюс, Казань — отзывы, адрес, телефон", "directory:title"),  # two weak kinds: reviews + card
        ("Окна Плюс: отзывы, рейтинг 4.2", "directory:title"),
        ("Стоматология Дентал на карте Казани: адрес, часы работы", "directory:title"),
        ("Окна Плюс в Казани, ул. Ленина, 5 — телефон и время работы", "directory:title"),  # street + card
        ("Биржа грузоперевозок: грузы из Казани", "freight"),
        ("Заявки на грузоперевозки — Самара", "freight"),
        ("Вопрос юристу: не вернули предоплату", "qa"),
        ("Расторжение договора — ответы юристов (4)", "qa"),
        ("Окна в Минске — 340 объявлений", "classifieds"),
        ("Клининг: доска объявлений Ташкента", "classifieds"),
        ("125 вакансий «водитель» в Казани — свежие вакансии", "jobs"),
        ("Окна Плюс — отзывы сотрудников о работодателе", "jobs"),
        ("Натяжные потолки — 1 250 предложений от 84 продавцов", "marketplace"),
        ("Купить окна — сравнить цены", "marketplace"),
        ("Главные новости Казани: окна подорожали", "portal:news"),
        ("Новости Самары — лента новостей", "portal:news"),
        # a company's own pages
        ("Пластиковые окна в Казани — «Окна Плюс»", None),
        ("Отзывы о нашей работе — Окна Плюс", None),
        ("Отзывы клиентов | Окна Плюс, Казань", None),
        ("Контакты: адрес, телефон, режим работы — Окна Плюс", None),
        ("Адреса и телефоны наших офисов — Окна Плюс", None),
        ("Адреса и телефоны салонов «Окна Плюс»", None),
        ("Лучшие цены на окна в Москве — Окна Плюс", None),
        ("Новости компании — Окна Плюс", None),
        ("Нам доверяют более 500 компаний — Аудит Консалт", None),
        ("Окна Плюс — цены, отзывы, фото работ", None),
        ("Оценка квартиры для ипотеки — отзывы клиентов", None),
        ("Банкетный зал на 50 мест — ресторан Волга", None),
        ("Сеть из 12 клиник «Улыбка» в Москве", None),
        ("Ремонт квартир: 40 мастеров в штате — СтройМастер", None),
        ("Реквизиты — ООО «Окна Плюс»", None),
        ("Контакты — Окна Плюс, Казань, ул. Ленина 5", None),
        ("Фулфилмент для маркетплейсов — Склад Про", None),
        ("Каталог — Окна Плюс: пластиковые окна в Казани", None),
        ("Грузоперевозки по России — ТК Магистраль", None),
        ("", None),
        (None, None),
    ],
)
def test_title(title: str | None, reason: str | None) -> None:
    assert title_signal(title) == reason


@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        ("Адреса и телефоны организаций города, часы работы.", "directory:snippet"),
        ("Найдено 245 компаний. Сравните цены и отзывы.", "directory:snippet"),
        ("Каталог организаций Минска с отзывами.", "directory:snippet"),
        ("Все компании города на одной карте.", "directory:snippet"),
        ("Поиск грузов и транспорта по России.", "freight"),
        ("3 ответа юристов. Юрист ответил через 15 минут.", "qa"),
        ("Подать объявление бесплатно.", "classifieds"),
        ("Свежие вакансии от прямых работодателей.", "jobs"),
        ("120 предложений от 14 продавцов.", "marketplace"),
        ("Последние новости региона.", "portal:news"),
        (
            "Окна Плюс, Казань, ул. Ленина, 5: телефон, время работы, отзывы, как доехать.",
            "directory:snippet",
        ),
        ("Стоматология Дентал: адрес на карте, рейтинг 4,6 по 38 оценкам.", "directory:snippet"),
        (
            "Адрес: ул. Ленина, 5. Телефон. Отзывы наших клиентов, схема проезда.",
            None,
        ),  # first person: a company
        ("Звоните! Адрес, телефон, отзывы и как добраться — на странице контактов.", None),
        (
            "Окна Плюс. Адрес: ул. Ленина, 5. Телефон: 200-00-00. Отзывы. Фото работ.",
            None,
        ),  # no map: a company
        # a company's own snippets
        ("Адрес: г. Казань, ул. Ленина, 5. Телефон +7 (843) 200-00-00. Отзывы наших клиентов.", None),
        ("Нам доверяют более 300 компаний Москвы. Входим в топ-10 производителей окон.", None),
        ("Сравните цены и убедитесь: у нас дешевле.", None),
        ("Задайте вопрос юристу онлайн бесплатно — перезвоним за 5 минут.", None),
        ("ИНН 1655123456, ОГРН 1021602830000, юридический адрес: г. Казань.", None),
        ("Адреса и телефоны наших салонов: ул. Ленина, 5; пр. Мира, 3.", None),
        (None, None),
    ],
)
def test_snippet(snippet: str | None, reason: str | None) -> None:
    assert snippet_signal(snippet) == reason


def test_result_signal_order_is_host_path_title_snippet() -> None:
    url = "https://kazan24.ru/search?q=okna"
    assert (
        result_signal("kazan24.ru", "kazan24.ru", url, "Вопрос юристу", "Подать объявление") == "portal:city"
    )
    url = "https://okna.ru/search?q=okna"
    assert result_signal("okna.ru", "okna.ru", url, "Вопрос юристу", "Подать объявление") == "directory:path"
    url = "https://okna.ru/"
    assert result_signal("okna.ru", "okna.ru", url, "Вопрос юристу", "Подать объявление") == "qa"
    assert result_signal("okna.ru", "okna.ru", url, "Окна Плюс", "Подать объявление") == "classifieds"
    assert result_signal("okna.ru", "okna.ru", url, "Окна Плюс", "Замер бесплатно") is None
