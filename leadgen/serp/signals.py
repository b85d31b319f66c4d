"""Directory signals in a result itself (host, URL path, title, snippet): why it looks like a listing, or None.

Pure and zone-agnostic. A strong signal decides alone; weak title signals decide only in pairs of different
kinds, so a company's own "Отзывы о нашей работе" or `/company/about` page stays a company. Every decision is a
`skip_reason`: `directory:host`, `directory:path`, `directory:title`, `directory:snippet`, `portal:city`,
`portal:news`, `classifieds`, `qa`, `jobs`, `marketplace`, `freight`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from leadgen.data import CITY_SLUGS

DIRECTORY_HOST = "directory:host"
DIRECTORY_PATH = "directory:path"
DIRECTORY_TITLE = "directory:title"
DIRECTORY_SNIPPET = "directory:snippet"
PORTAL_CITY = "portal:city"
PORTAL_NEWS = "portal:news"
CLASSIFIEDS = "classifieds"
QA = "qa"
JOBS = "jobs"
MARKETPLACE = "marketplace"
FREIGHT = "freight"
SIGNAL_REASONS = (DIRECTORY_HOST, DIRECTORY_PATH, DIRECTORY_TITLE, DIRECTORY_SNIPPET, PORTAL_CITY, PORTAL_NEWS,
                  CLASSIFIEDS, QA, JOBS, MARKETPLACE, FREIGHT)  # fmt: skip

# --- host: the registrable label (`e1` of `e1.ru`, `okna-otzyvy` of `okna-otzyvy.рф`) ---------------------------
CITY_PREFIX_RE = re.compile(r"^(?:gorod|my|moy|vse|nash|portal|news|novosti|love|live)-?(?=.)")
CITY_SUFFIX_RE = re.compile(r"(?<=.)-?(?:24|online|news|info|inform|portal|life|today|city|gid|live|ru)$")
NEWS_SUBDOMAINS = frozenset({"news", "novosti"})
FORUM_SUBDOMAINS = frozenset({"forum", "forums", "otvety", "answers"})
DIGITS_LABEL_RE = re.compile(r"^\d{2,3}$")
# Stems a company's own domain almost never carries, one named group per reason (the leftmost match wins).
HOST_KEYWORDS_RE = re.compile(
    r"(?P<portal_news>news|novosti|gazet|(?:^|-)vesti|izvesti|pravda|vecherk|-smi$|^smi-|новости|"
    r"газет|(?:^|-)вести)"
    r"|(?P<freight>(?:gruz|trans|cargo|avto|auto|freight|груз|транс)\w{0,3}-?birzh|birzh\w*-?(?:gruz|trans|cargo)|"
    r"биржа-?груз|freight-?exchange|loadboard)"
    r"|(?P<classifieds>obyav|objav|obiav|barahol|объявлен|барахол)"
    r"|(?P<jobs>vakans|vacanc|rabota|^jobs?$|^jobs?-|-jobs?$|karera|kariera|career|rezume|вакансии|работа-в)"
    r"|(?P<qa>vopros|otvety|sprosi|answers|вопрос|ответы|(?:ju|yu|u)rist\w{0,3}-?online|online-?(?:ju|yu|u)rist)"
    r"|(?P<directory_host>otzyv|otziv|otzov|otzuv|reviews?$|spravochn|yellow-?pages|zheltye|katalog-?firm|firmy$|"
    r"vse-?firm|vsefirm|reiting|reyting|rating|top-?10|biznes-?katalog|отзыв|справочн|рейтинг|фирмы)"
)
GROUP_REASONS = {"portal_news": "portal:news", "freight": "freight", "classifieds": "classifieds", "jobs": "jobs",
                 "qa": "qa", "directory_host": "directory:host"}  # fmt: skip

# --- path ---------------------------------------------------------------------------------------------------------
LISTING_SEGMENTS = frozenset(
    {"firm", "firms", "firma", "firmy", "company", "companies", "kompaniya", "kompanii", "org", "orgs",
     "organization", "organizations", "organizatsii", "organizacii", "rating", "reiting", "reviews", "review",
     "otzyvy", "otzyv", "otzivi", "otzivy", "card", "profile", "place", "places", "biz", "spravochnik",
     "predpriyatiya", "catalog", "katalog", "members", "supplier", "suppliers", "postavshchiki", "proizvoditeli",
     "top", "luchshie"}
)  # fmt: skip
PLURAL_LISTING_SEGMENTS = frozenset(
    {"firms", "firmy", "companies", "kompanii", "orgs", "organizations", "organizatsii", "organizacii",
     "spravochnik", "predpriyatiya", "suppliers", "postavshchiki", "proizvoditeli", "rating", "reiting", "top",
     "luchshie"}
)  # fmt: skip
# The shop catalogue (`/catalog/okna/12345/`) and Bitrix' company pages (`/company/news/123/`) are a company's own.
OWN_SITE_SEGMENTS = frozenset(
    {"news", "novosti", "about", "o-kompanii", "o-nas", "contacts", "kontakty", "history", "istoriya",
     "vacancies", "vakansii", "press", "articles", "stati", "licenses", "sertifikaty", "team", "docs", "blog",
     "reviews", "otzyvy", "gallery", "photo", "foto", "projects", "proekty", "portfolio", "info", "requisites"}
)  # fmt: skip
REVIEW_SEGMENTS = frozenset({"reviews", "review", "otzyvy", "otzyv", "otzivi", "otzivy"})
SHOP_SEGMENTS = frozenset({"catalog", "katalog", "product", "products", "item", "tovar", "goods"})
QA_SEGMENTS = frozenset(
    {"question", "questions", "vopros", "voprosy", "qa", "answers", "otvety", "consult-question"}
)
JOB_SEGMENTS = frozenset(
    {"vacancy", "vacancies", "vakansii", "vakansiya", "rabota", "resume", "rezume", "job", "jobs"}
)
CLASSIFIED_SEGMENTS = frozenset({"obyavleniya", "obyavlenie", "obyavlenia", "board", "ads", "adverts"})
FREIGHT_SEGMENTS = frozenset({"gruzy", "cargo", "loads", "birzha", "gruzoperevozki-zayavki", "trucks"})
REGISTRY_SEGMENTS = frozenset({"inn", "ogrn", "egrul", "id"})
SEARCH_SEGMENTS = frozenset({"search", "poisk", "find", "searchresults"})
SEARCH_PARAMS = frozenset({"q", "query", "text", "search", "what", "searchtext", "keyword", "keywords", "s"})
CITY_SEGMENTS = CITY_SLUGS
PATH_KEYWORDS = (LISTING_SEGMENTS | PLURAL_LISTING_SEGMENTS | QA_SEGMENTS | JOB_SEGMENTS | CLASSIFIED_SEGMENTS
                 | FREIGHT_SEGMENTS | REGISTRY_SEGMENTS | SEARCH_SEGMENTS)  # fmt: skip
ID_RE = re.compile(r"\d{4,}")
DATE_PATH_RE = re.compile(r"/20\d\d/[01]\d/[0-3]\d/")

# --- title and snippet (lower case, ё → е) -------------------------------------------------------------------------
_ORGS = (r"(?:компани[йи]|организаци[йи]|фирм|предприяти[йя]|производител[ей]+|поставщик(?:ов|и)|застройщик(?:ов|и)|"
         r"подрядчик(?:ов|и)|агентств|клиник|салон(?:ов|ы)|автосервис(?:ов|ы)|магазин(?:ов|ы)|мастер(?:ов|а)|"
         r"исполнител[ей]+|юрист(?:ов|ы)|адвокат(?:ов|ы)|перевозчик(?:ов|и)|школ|ресторан(?:ов|ы)|"
         r"специалист(?:ов|ы)|стоматологи[йи]|сервис(?:ов|ы)|студи[йи]|заведени[йя])")  # fmt: skip
_COUNTED = (
    r"(?:компани[йи]|организаци[йи]|фирм|предприяти[йя]|заведени[йя]|исполнител[ей]+|поставщик(?:ов|а)|"
    r"производител[ей]+|подрядчик(?:ов|а)|перевозчик(?:ов|а)|(?:частных )?мастер(?:ов|а)(?! в штате)|"
    r"специалист(?:ов|а)(?! в штате))"
)
_OWN = r"(?! (?:наших|нашего|салон|офис|филиал|магазин|представит|пункт|склад))"
_NO_TRUST = r"(?<!доверяют )(?<!доверяют более )(?<!клиентов )(?<!более )"
_DIGIT_ORG_GATES = ("компани", "организац", "фирм", "предприят", "заведен", "исполнител", "поставщик", "производител",
                    "подрядчик", "перевозчик", "мастер", "специалист")  # fmt: skip
# (gates, pattern, reason) that decide alone. A pattern runs only when one of its gates (plain substrings, cheap)
# is in the text: most titles and snippets pass none, and the regular expressions are the cost.
Strong = tuple[tuple[str, ...], re.Pattern[str], str]
TITLE_STRONG: tuple[Strong, ...] = (
    (("груз", "перевоз", "машин", "freight", "load board"),
     re.compile(r"биржа (?:грузоперевозок|грузов|транспорта|перевозок)|грузы и транспорт|поиск (?:груза|грузов)|"
                r"свободные (?:грузы|машины)|заявки на (?:грузо)?перевоз|freight exchange|load board"), FREIGHT),
    (("юрист", "вопрос"),
     re.compile(r"^вопрос юристу|вопрос юристу:|ответы юристов|юрист[ыа]? ответил|\d+ ответ(?:ов|а) юрист|"
                r"юридическая консультация онлайн.{0,20}\d+ ответ|вопрос задан"), QA),
    (("объявлен", "classified"),
     re.compile(r"доска (?:бесплатных )?объявлений|\d+ объявлени|бесплатные объявления|частные объявления|"
                r"объявления о продаже|объявления .{0,40}(?:купить|продать) на|classifieds"), CLASSIFIEDS),
    (("ваканс", "сотрудник", "работник", "job"),
     re.compile(r"\d+ ваканси|свежие вакансии|вакансии от (?:прямых )?работодател|^работа .{0,60} в [а-я-]+е\b.{0,20}"
                r"ваканси|отзывы (?:сотрудников|работников) о|работа в [а-я-]+ (?:—|-|:) ?ваканси|\d+ jobs|jobs in"),
     JOBS),
    (("продав", "магазин", "поставщик", "сравн", "маркетплейс", "товаров"),
     re.compile(r"предложени[йя] от \d+ (?:продавц|магазин|поставщик)|\d+ продавц(?:ов|а) |"
                r"сравн(?:ить|ение|ите) цен|маркетплейс (?:товаров|услуг|№)|\d+ товаров от"), MARKETPLACE),
    (("новост", "происшест"),
     re.compile(r"последние новости|главные новости|новости (?:дня|города|региона)|(?:—|\||^)\s*новости "
                r"(?!компани|фирм|организац|отрасл|рынка|сайта)[а-я-]+[аеи]\b|лента новостей|происшестви"),
     PORTAL_NEWS),
    (("адрес", "телефон", "список", "все "),
     re.compile(rf"адреса и телефоны{_OWN}|телефоны и адреса{_OWN}|адреса,? телефоны{_OWN}|адреса на карте|"
                r"\bсписок(?: и| с|,) (?:телефон|адрес|контакт)|все (?:компании|организации|фирмы|предприятия|"
                r"магазины|салоны|автосервисы|клиники|рестораны|агентства|школы)\b"), DIRECTORY_TITLE),
    (("каталог", "список", "справочник", "база", "реестр", "рейтинг", "перечень"),
     re.compile(rf"(?:каталог|список|справочник|база|реестр|рейтинг|перечень) (?:лучших )?{_ORGS}|\bсправочник\b"),
     DIRECTORY_TITLE),
    (_DIGIT_ORG_GATES, re.compile(rf"{_NO_TRUST}\b\d+ {_COUNTED}"), DIRECTORY_TITLE),
    (("топ", "top"), re.compile(r"\bтоп[- ]?\d+\b|\btop[- ]?\d+\b"), DIRECTORY_TITLE),
    (("лучш",), re.compile(rf"лучши[ех] {_ORGS}.{{0,40}}\bв [а-я-]+[еи]\b"), DIRECTORY_TITLE),
    (("где ",), re.compile(r"где (?:купить|заказать|найти) .{0,50} в [а-я-]+е\b.{0,30}(?:адрес|отзыв|рейтинг)"),
     DIRECTORY_TITLE),
    (("best", "directory", "yellow", "compan", "review", "near me"),
     re.compile(r"\bbest [\w ]{1,40} in [a-z]|business directory|yellow pages|\d+ companies|companies in [a-z]|"
                r"directory of|\breviews of\b|near me"), DIRECTORY_TITLE),
    (("инн", "огрн", "егрюл"), re.compile(r"\bинн:? ?\d{10}\b|\bогрн:? ?\d{13}\b|егрюл"), DIRECTORY_TITLE),
)  # fmt: skip
SNIPPET_STRONG: tuple[Strong, ...] = (
    (("груз",),
     re.compile(r"биржа (?:грузоперевозок|грузов|транспорта)|поиск грузов и транспорта|грузы и транспорт|"
                r"заявки на перевозку груз|разместите груз"), FREIGHT),
    (("юрист",), re.compile(r"ответы юристов|юрист[ыа]? ответил|\d+ ответ(?:ов|а) юрист"), QA),
    (("объявлен",),
     re.compile(r"доска (?:бесплатных )?объявлений|(?:разместить|подать) (?:бесплатное )?объявление|"
                r"\d+ объявлени|частные объявления"), CLASSIFIEDS),
    (("ваканс", "резюме"),
     re.compile(r"вакансии от (?:прямых )?работодател|свежие вакансии|\d+ ваканси[йи] (?:в|по|от)|"
                r"(?:разместить|создать) резюме"), JOBS),
    (("предложени", "магазин"),
     re.compile(r"предложени[йя] от \d+ (?:продавц|магазин|поставщик)|цены (?:в|от) \d+ магазин"), MARKETPLACE),
    (("новост",),
     re.compile(r"последние новости|главные новости|новости (?:дня|города|региона)|лента новостей"), PORTAL_NEWS),
    (("адрес", "телефон"),
     re.compile(rf"адреса и телефоны{_OWN}|телефоны и адреса{_OWN}|адреса,? телефоны{_OWN}"), DIRECTORY_SNIPPET),
    (("каталог", "список", "справочник", "база", "реестр", "рейтинг", "найден", "всего", "собрали", "все "),
     re.compile(rf"(?:каталог|список|справочник|база|реестр|рейтинг) (?:лучших )?{_ORGS}|"
                rf"(?:найдено|найдены|всего|список из|собрали) \d+ {_ORGS}|все (?:компании|организации|фирмы) "
                r"(?:города|в|на)"), DIRECTORY_SNIPPET),
    (("directory", "yellow"), re.compile(r"business directory|yellow pages"), DIRECTORY_SNIPPET),
)  # fmt: skip
# Weak title signals: (pattern, kind). Two different kinds in one title decide (`directory:title`).
TITLE_WEAK: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"отзыв|reviews?\b"), "reviews"),
    (re.compile(r"рейтинг|\brating"), "rating"),
    (
        re.compile(
            r"адрес|телефон|режим работы|часы работы|время работы|как добраться|address|opening hours"
        ),
        "card",
    ),
    (re.compile(r"на карте (?:города|[а-я-]+[ыиа]\b)|\bon (?:the )?map\b"), "map"),
    (re.compile(r"лучши[ехм]|\bbest\b"), "best"),
    (re.compile(r"(?:\bул\.|\bулица|\bпр-т|\bпроспект|\bпр\.) ?[а-я0-9]"), "street"),
    (re.compile(r"объявлени"), "classifieds"),
    (re.compile(r"ваканси"), "jobs"),
)
# Weak snippet signals: card, map and a third kind in a snippet written in the third person (a card copied from a
# map) decide.
SNIPPET_WEAK: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"адрес|телефон|часы работы|время работы|режим работы"), "card"),
    (re.compile(r"отзыв"), "reviews"),
    (re.compile(r"рейтинг|оценк"), "rating"),
    (re.compile(r"на карте|как доехать|как добраться|схема проезда|маршрут"), "map"),
    (re.compile(r"\bфото"), "photos"),
)
FIRST_PERSON_RE = re.compile(r"\b(?:мы|нас|наш\w*|нам|звоните|закажите|оставьте|приглашаем|ждем)\b")
_ANY_TITLE_RE = re.compile(
    r"отзыв|рейтинг|оценк|адрес|телефон|режим|час|карт|лучш|объявл|ваканси|работ|фото|груз|перевоз|юрист|вопрос|"
    r"продавц|магазин|цен|маркет|новост|происшест|справоч|каталог|список|реестр|перечень|база|все |топ|\d|"
    r"[a-z]"
)
_ANY_SNIPPET_RE = re.compile(
    r"груз|юрист|объявлен|ваканси|резюме|продавц|магазин|сравн|новост|адрес|каталог|список|справоч|реестр|"
    r"рейтинг|база|найден|всего|собрали|все |топ|directory|pages|телефон|отзыв|карте|доехать|добраться|проезд|"
    r"работы|фото|оценк"
)


def _label(domain: str) -> str:
    """The registrable label: `okna-plus` of `okna-plus.ru`, `e1` of `e1.ru` (the domain has a known suffix)."""
    return domain.partition(".")[0]


def _city_core(label: str) -> str | None:
    """The city of a portal label (`kazan`, `kazan24`, `mykazan`, `minsk-online`, `gorod-omsk`), else None."""
    if label in CITY_SLUGS:
        return label
    core = CITY_SUFFIX_RE.sub("", label, count=1)
    if core in CITY_SLUGS:
        return core
    core = CITY_PREFIX_RE.sub("", core, count=1)
    return core if core in CITY_SLUGS else None


@lru_cache(maxsize=262144)
def domain_signal(domain: str) -> str | None:
    """A reason from the registrable domain: a city portal (`74.ru`, `kazan24.ru`) or a listing keyword."""
    label = _label(domain)
    if DIGITS_LABEL_RE.match(label):
        return PORTAL_CITY
    if _city_core(label) is not None:
        return PORTAL_CITY
    keyword = HOST_KEYWORDS_RE.search(label)
    return GROUP_REASONS[keyword.lastgroup] if keyword is not None and keyword.lastgroup else None


def host_signal(host: str | None, domain: str | None) -> str | None:
    """`domain_signal`, and a `news.`/`novosti.` subdomain (`news.firm.ru`) as a news portal."""
    if not domain:
        return None
    if host and host != domain:
        sub = host.removesuffix("." + domain).rpartition(".")[2]
        if sub in NEWS_SUBDOMAINS:
            return PORTAL_NEWS
        if sub in FORUM_SUBDOMAINS:
            return QA
    return domain_signal(domain)


def _segments(url: str) -> tuple[list[str], str]:
    """Lower-case path segments and the query string of a canonical `https://host/path?query` URL."""
    slash = url.find("/", 8)
    if slash < 0 or slash == len(url) - 1:
        return [], ""
    path, _, query = url[slash + 1 :].partition("?")
    return [s for s in path.lower().split("/") if s], query


def path_signal(url: str) -> str | None:
    """A reason from the URL: a search page, a listing card (`/firm/70000012`), a Q&A, job or classifieds card."""
    segments, query = _segments(url)
    if not segments and not query:
        return None
    if query:
        for pair in query.split("&"):
            name, _, value = pair.partition("=")
            if value and name.lower() in SEARCH_PARAMS:
                return DIRECTORY_PATH
    if not segments:
        return None
    if "/20" in url and DATE_PATH_RE.search(url):
        return PORTAL_NEWS  # a dated article: `/2026/03/11/...`
    seen: set[str] = set(segments)
    if seen.isdisjoint(PATH_KEYWORDS):
        return None  # the common case: nothing in the path that any rule below looks at
    if seen & SEARCH_SEGMENTS:
        return DIRECTORY_PATH
    has_id = any(ID_RE.search(s) for s in segments)
    if seen & QA_SEGMENTS and has_id:
        return QA
    if seen & JOB_SEGMENTS and (has_id or seen & CITY_SEGMENTS):
        return JOBS
    if seen & CLASSIFIED_SEGMENTS and (has_id or seen & CITY_SEGMENTS):
        return CLASSIFIEDS
    if seen & REGISTRY_SEGMENTS and has_id:
        return DIRECTORY_PATH  # a company card of a registry mirror (`/inn/1655123456`)
    if seen & FREIGHT_SEGMENTS and has_id and "birzha" in seen:
        return FREIGHT
    for i, segment in enumerate(segments):
        if segment not in LISTING_SEGMENTS:
            continue
        following = segments[i + 1 : i + 3]
        if segment in PLURAL_LISTING_SEGMENTS and (seen & CITY_SEGMENTS):
            return DIRECTORY_PATH
        if not following or segment in SHOP_SEGMENTS:
            continue
        first = following[0]
        if first in OWN_SITE_SEGMENTS:
            continue
        if segment in REVIEW_SEGMENTS and first.isdigit():
            continue  # one review on the company's own site (`/otzyvy/123/`)
        if ID_RE.search(first) or (len(following) > 1 and ID_RE.fullmatch(following[1])):
            return DIRECTORY_PATH
    return None


def _fold(text: str) -> str:
    return text.lower().replace("ё", "е").replace("\xa0", " ")


@lru_cache(maxsize=131072)
def title_signal(title: str | None) -> str | None:
    """A reason from the title: one strong listing phrase, or two weak signals of different kinds."""
    if not title:
        return None
    text = _fold(title)
    if not _ANY_TITLE_RE.search(text):
        return None
    for gates, pattern, reason in TITLE_STRONG:
        if any(gate in text for gate in gates) and pattern.search(text):
            return reason
    kinds = {kind for pattern, kind in TITLE_WEAK if pattern.search(text)}
    return DIRECTORY_TITLE if len(kinds) >= 2 else None


@lru_cache(maxsize=131072)
def snippet_signal(snippet: str | None) -> str | None:
    """A reason from the snippet: strong listing phrases only (a company's snippet names its address and reviews)."""
    if not snippet:
        return None
    text = _fold(snippet)
    if not _ANY_SNIPPET_RE.search(text):
        return None
    for gates, pattern, reason in SNIPPET_STRONG:
        if any(gate in text for gate in gates) and pattern.search(text):
            return reason
    kinds = {kind for pattern, kind in SNIPPET_WEAK if pattern.search(text)}
    if len(kinds) >= 3 and {"card", "map"} <= kinds and not FIRST_PERSON_RE.search(text):
        return DIRECTORY_SNIPPET
    return None


def result_signal(
    host: str | None, domain: str | None, url: str, title: str | None, snippet: str | None
) -> str | None:
    """The first reason found in host, path, title, snippet (in that order); None when it looks like a company."""
    return host_signal(host, domain) or path_signal(url) or title_signal(title) or snippet_signal(snippet)


def clear_caches() -> None:
    """Empty the per-text caches (benchmarks measure a cold run)."""
    domain_signal.cache_clear()
    title_signal.cache_clear()
    snippet_signal.cache_clear()
