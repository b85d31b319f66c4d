"""Deterministic, realistic Yandex XML result documents for the emulator (pure: query and page in, bytes out).

Company domains are derived from the query words (transliterated, sometimes an IDN `.рф` in punycode) and are
mixed with the directories, maps, marketplaces and social sites that real business results contain. Optional
tags (headline, modtime, passages, lang, saved-copy-url) are left out now and then, as the docs warn.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote
from xml.sax.saxutils import escape as _escape

EMPTY_MARKER = "zzznothing"  # a query containing this word yields XML error 15 (no results)
DEFAULT_MAX_RESULTS = 250  # current docs; older docs say 1000 (error 18 past the cap)

TRANSLIT = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
        "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
        "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y",
        "ь": "", "э": "e", "ю": "yu", "я": "ya",
    }
)  # fmt: skip
# characters XML 1.0 forbids (https://www.w3.org/TR/xml/#charsets); dropped from echoed user text
INVALID_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
WORD_RE = re.compile(r"[\w-]+", re.UNICODE)
STOP_WORDS = frozenset(
    {
        "в",
        "и",
        "на",
        "для",
        "по",
        "с",
        "контакты",
        "официальный",
        "сайт",
        "телефон",
        "email",
        "цены",
        "купить",
    }
)

# (city slug, city name in the prepositional case, city name) per Yandex region id
REGIONS: dict[str, tuple[str, str, str]] = {
    "213": ("moscow", "Москве", "Москва"),
    "2": ("spb", "Санкт-Петербурге", "Санкт-Петербург"),
    "54": ("ekaterinburg", "Екатеринбурге", "Екатеринбург"),
    "65": ("novosibirsk", "Новосибирске", "Новосибирск"),
    "43": ("kazan", "Казани", "Казань"),
    "47": ("nizhny-novgorod", "Нижнем Новгороде", "Нижний Новгород"),
    "225": ("russia", "России", "Москва"),
}

# (host, url template, title template): {q} url-quoted query, {slug} transliterated, {Q} query, {city} etc.
DIRECTORIES: tuple[tuple[str, str, str], ...] = (
    ("2gis.ru", "https://2gis.ru/{city}/search/{q}", "{Q} в {cityp} — адреса и телефоны на карте — 2ГИС"),
    ("zoon.ru", "https://zoon.ru/msk/{slug}/", "{Q} в {cityp}: рейтинг, отзывы, цены — Zoon.ru"),
    ("www.yell.ru", "https://www.yell.ru/{city}/top/{slug}/", "Лучшие {Q} в {cityp} — отзывы на Yell.ru"),
    ("www.avito.ru", "https://www.avito.ru/{city}/predlozheniya_uslug?q={q}", "{Q} — услуги на Авито"),
    ("hh.ru", "https://hh.ru/search/vacancy?text={q}&area=1", "Работа: {Q} — вакансии в {cityp} на hh.ru"),
    ("market.yandex.ru", "https://market.yandex.ru/search?text={q}", "{Q} — купить на Яндекс Маркете"),
    ("www.ozon.ru", "https://www.ozon.ru/search/?text={q}&from_global=true", "{Q} купить на OZON"),
    (
        "www.wildberries.ru",
        "https://www.wildberries.ru/catalog/0/search.aspx?search={q}",
        "{Q} — Wildberries",
    ),
    ("vk.com", "https://vk.com/{slug}_{city}", "{Q} | {city_title} | ВКонтакте"),
    ("www.youtube.com", "https://www.youtube.com/watch?v={vid}", "{Q}: как выбрать — YouTube"),
    ("www.rusprofile.ru", "https://www.rusprofile.ru/codes/{okved}", "Компании: {Q} — Rusprofile"),
    ("www.list-org.com", "https://www.list-org.com/search?type=name&val={q}", "{Q} — список организаций"),
    ("{city}.flamp.ru", "https://{city}.flamp.ru/search/{q}", "{Q} — отзывы на Флампе"),
    ("yandex.ru", "https://yandex.ru/maps/{region}/{city}/search/{q}/", "{Q} — Яндекс Карты"),
    ("www.orgpage.ru", "https://www.orgpage.ru/{city}/{slug}/", "{Q} в {cityp} — OrgPage"),
    ("spravker.ru", "https://{city}.spravker.ru/{slug}/", "{Q} — справочник организаций"),
    ("ru.wikipedia.org", "https://ru.wikipedia.org/wiki/{wiki}", "{Q} — Википедия"),
    ("www.pulscen.ru", "https://www.pulscen.ru/search/price?q={q}", "{Q} — Пульс цен"),
)
COMPANY_PATTERNS = (
    "{a}-{b}.ru",
    "{a}{city}.ru",
    "{a}-pro.ru",
    "{b}-{a}.com",
    "www.{a}-{n}.ru",
    "{a}-{city}.ru",
    "{a}-service.ru",
    "{a}{n}.ru",
    "{a}-{b}.su",
    "{b}group.ru",
)
COMPANY_NAMES = ("Альфа", "Профи", "Гарант", "Мастер", "Лидер", "Эксперт", "Стандарт", "Престиж", "Вектор")
COMPANY_PATHS = ("/", "/", "/", "/kontakty/", "/contacts", "/uslugi/", "/about/", "/catalog/")
PASSAGE_TEMPLATES = (
    "{Q} в {cityp} — работаем с 2009 года. Бесплатная консультация, выезд специалиста.",
    "Компания «{name}» предлагает {q_lower} по доступным ценам. Звоните: +7 (495) {p1}-{p2}-{p3}.",
    "Контакты: {host}, e-mail: info@{host}. Адрес: г. {city_title}, ул. Ленина, д. {n}.",
    "Цены на {q_lower} от {price} ₽. Гарантия качества, договор, работаем без выходных.",
)

DIRECTORY_PASSAGES = (
    "{Q} в {cityp}: {n} организаций на карте. Адреса, телефоны, часы работы, отзывы и фото.",
    "Рейтинг: {Q} — {n} мест с отзывами посетителей. Выбирайте лучшие по оценкам и ценам.",
    "Найдено {n} предложений «{q_lower}». Сравните цены и условия, свяжитесь с исполнителем.",
)


@dataclass(frozen=True, slots=True)
class SerpSpec:
    """What the request asked for (echoed in `<request>`); page is 0-based."""

    query: str
    region: str | None = None
    page: int = 0
    groups_on_page: int = 10
    docs_in_group: int = 1
    max_passages: int = 2
    max_results: int = DEFAULT_MAX_RESULTS


def escape(text: str) -> str:
    """XML-escape text, dropping characters XML 1.0 does not allow."""
    return _escape(INVALID_XML_RE.sub("", text))


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def query_words(query: str, /) -> list[str]:
    """Meaningful query words (no minus operators, site: filters or stop words), lower-case."""
    words = []
    for token in query.lower().split():
        if token.startswith(("-", "~", "site:", "!")) or ":" in token:
            continue
        for word in WORD_RE.findall(token):
            if word not in STOP_WORDS and len(word) > 1:
                words.append(word)
    return words or ["kompaniya"]


def translit(word: str, /) -> str:
    """Lower-case Latin slug of a (possibly Cyrillic) word."""
    latin = word.lower().translate(TRANSLIT)
    return re.sub(r"[^a-z0-9-]+", "", latin).strip("-") or "firma"


CYRILLIC_WORD_RE = re.compile(r"[а-яё0-9]+")


def company_hosts(query: str, /, *, region: str | None, count: int) -> list[str]:
    """`count` distinct company hosts derived deterministically from the query (same query → same hosts)."""
    words = query_words(query)
    city = REGIONS.get(region or "", REGIONS["213"])[0]
    rng = random.Random(_seed("hosts", query, region))
    hosts: list[str] = []
    attempt = 0
    while len(hosts) < count and attempt < count * 20:
        attempt += 1
        a = translit(rng.choice(words))[:14]
        b = translit(rng.choice([*words, "expert", "stroy", "prof", "master", "city"]))[:10]
        cyrillic = [w for w in words if CYRILLIC_WORD_RE.fullmatch(w)]
        if cyrillic and rng.random() < 0.08:  # an IDN domain, as Yandex prints it: punycode
            label = rng.choice(cyrillic)[:12] + "-" + rng.choice(COMPANY_NAMES).lower()
            candidate = (label + ".рф").encode("idna").decode("ascii")
        else:
            pattern = rng.choice(COMPANY_PATTERNS)
            candidate = pattern.format(a=a, b=b, city=city, n=rng.randint(1, 99))
        if candidate not in hosts and ".." not in candidate:
            hosts.append(candidate)
    return hosts


def _hl(text: str, words: list[str]) -> str:
    """Escape `text` and wrap tokens that share a 4-letter stem with a query word in <hlword>."""
    stems = {w[:4] for w in words if len(w) >= 3}
    out = []
    for token in re.split(r"(\w+)", text):
        if token and token[:4].lower() in stems and len(token) >= 3:
            out.append(f"<hlword>{escape(token)}</hlword>")
        else:
            out.append(escape(token))
    return "".join(out)


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def render_serp_xml(spec: SerpSpec, /, *, now: datetime) -> bytes:
    """The UTF-8 XML document Yandex would return in rawData for this request."""
    rng = random.Random(_seed("serp", spec.query, spec.region, spec.page, spec.groups_on_page))
    words = query_words(spec.query)
    date = _fmt(now)
    reqid = f"{int(now.timestamp() * 1000)}{rng.randint(100000, 999999)}-{rng.getrandbits(60)}-sas2-{rng.randint(1, 9999):04d}-XML"
    request = _request_block(spec)
    available = min(spec.max_results, 30 + _seed("available", spec.query, spec.region) % 400)
    first = spec.page * spec.groups_on_page
    if EMPTY_MARKER in spec.query.lower():
        return _error_doc(request, date, reqid, 15, "Искомая комбинация слов нигде не встречается")
    if first >= spec.max_results:
        return _error_doc(request, date, reqid, 18, "Ошибка в XML-запросе — проверьте валидность параметров")
    if first >= available:
        return _error_doc(request, date, reqid, 15, "Искомая комбинация слов нигде не встречается")
    n_groups = min(spec.groups_on_page, available - first)
    found = 1200 + _seed("found", spec.query) % 2_500_000
    groups = _groups(spec, rng, words, n_groups, now)
    human = f"Нашлось {max(found // 1000, 1)} тыс. результатов"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<yandexsearch version="1.0">\n',
        request,
        f'<response date="{date}">\n<reqid>{reqid}</reqid>\n',
        *(f'<found priority="{p}">{found}</found>\n' for p in ("phrase", "strict", "all")),
        f"<found-human>{human}</found-human>\n<results>\n",
        _grouping_open(spec),
        *(f'<found priority="{p}">{available}</found>\n' for p in ("phrase", "strict", "all")),
        *(f'<found-docs priority="{p}">{found}</found-docs>\n' for p in ("phrase", "strict", "all")),
        f"<found-docs-human>нашлось {found} ответов</found-docs-human>\n",
        f'<page first="{first + 1}" last="{first + n_groups}">{spec.page}</page>\n',
        *groups,
        "</grouping>\n</results>\n</response>\n</yandexsearch>\n",
    ]
    return "".join(parts).encode("utf-8")


def _request_block(spec: SerpSpec) -> str:
    return (
        f"<request>\n<query>{escape(spec.query)}</query>\n<page>{spec.page}</page>\n"
        '<sortby order="descending" priority="no">rlv</sortby>\n'
        f"<maxpassages>{spec.max_passages}</maxpassages>\n<groupings>"
        f'<groupby attr="d" mode="deep" groups-on-page="{spec.groups_on_page}" '
        f'docs-in-group="{spec.docs_in_group}" curcateg="-1"/></groupings>\n</request>\n'
    )


def _grouping_open(spec: SerpSpec) -> str:
    return (
        f'<grouping attr="d" mode="deep" groups-on-page="{spec.groups_on_page}" '
        f'docs-in-group="{spec.docs_in_group}" curcateg="-1">\n'
    )


def _error_doc(request: str, date: str, reqid: str, code: int, text: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<yandexsearch version="1.0">\n'
        f'{request}<response date="{date}">\n<error code="{code}">{escape(text)}</error>\n'
        f"<reqid>{reqid}</reqid>\n</response>\n</yandexsearch>\n"
    ).encode()


def _groups(spec: SerpSpec, rng: random.Random, words: list[str], count: int, now: datetime) -> list[str]:
    city, cityp, city_title = REGIONS.get(spec.region or "", REGIONS["213"])
    hosts = company_hosts(spec.query, region=spec.region, count=count + spec.page * spec.groups_on_page)
    hosts = hosts[spec.page * spec.groups_on_page :]
    directories = list(DIRECTORIES)
    rng.shuffle(directories)
    q_title = " ".join(words[:4])
    q_title = q_title[:1].upper() + q_title[1:]
    ctx = {
        "q": quote(" ".join(words)),
        "slug": "_".join(translit(w) for w in words[:3]),
        "Q": q_title,
        "q_lower": q_title.lower(),
        "city": city,
        "cityp": cityp,
        "city_title": city_title,
        "region": spec.region or "213",
        "wiki": quote(words[0].capitalize()),
        "okved": f"{rng.randint(10, 96)}{rng.randint(10, 99)}",
        "max_passages": str(spec.max_passages),
    }
    out = []
    for index in range(count):
        if directories and rng.random() < 0.35:
            host_t, url_t, title_t = directories.pop()
            host = host_t.format(**ctx)
            url = url_t.format(**ctx, vid=f"{rng.getrandbits(40):010x}")
            docs = [(host, url, title_t.format(**ctx))]
            directory = True
        else:
            host = hosts[index % len(hosts)] if hosts else f"firma{index}.ru"
            name = rng.choice(COMPANY_NAMES)
            scheme = "https" if rng.random() < 0.8 else "http"
            n_docs = rng.randint(1, spec.docs_in_group)
            paths = rng.sample(COMPANY_PATHS[2:], k=n_docs - 1) if n_docs > 1 else []
            docs = []
            directory = False
            for path in ["/", *paths]:
                title = (
                    f"{q_title} в {cityp} — «{name}»" if path == "/" else f"Контакты — «{name}» | {q_title}"
                )
                docs.append((host, f"{scheme}://{host}{path}", title))
        out.append(_group(docs, rng, words, ctx, now, directory=directory))
    return out


def _group(
    docs: list[tuple[str, str, str]],
    rng: random.Random,
    words: list[str],
    ctx: dict[str, str],
    now: datetime,
    *,
    directory: bool,
) -> str:
    categ = docs[0][0].removeprefix("www.")
    body = [
        f'<group>\n<categ attr="d" name="{escape(categ)}"/>\n<doccount>{rng.randint(len(docs), 900)}</doccount>\n'
        '<relevance priority="all"/>\n'
    ]
    for host, url, title in docs:
        body.append(_doc(host, url, title, rng, words, ctx, now, directory=directory))
    body.append("</group>\n")
    return "".join(body)


def _doc(
    host: str,
    url: str,
    title: str,
    rng: random.Random,
    words: list[str],
    ctx: dict[str, str],
    now: datetime,
    *,
    directory: bool,
) -> str:
    templates = DIRECTORY_PASSAGES if directory else PASSAGE_TEMPLATES
    fields = {**ctx, "host": host.removeprefix("www."), "name": rng.choice(COMPANY_NAMES), "n": str(rng.randint(1, 120)),
              "price": str(rng.randint(5, 90) * 100), "p1": f"{rng.randint(100, 999)}", "p2": f"{rng.randint(10, 99)}",
              "p3": f"{rng.randint(10, 99)}"}  # fmt: skip
    parts = [f'<doc id="Z{rng.getrandbits(64):016X}">\n<relevance priority="phrase"/>\n']
    parts.append(f"<url>{escape(url)}</url>\n<domain>{escape(host)}</domain>\n")
    parts.append("<title/>\n" if rng.random() < 0.03 else f"<title>{_hl(title, words)}</title>\n")
    if rng.random() < 0.6:
        parts.append(f"<headline>{_hl(rng.choice(templates).format(**fields), words)}</headline>\n")
    if rng.random() < 0.7:
        parts.append(f"<modtime>{_fmt(now - timedelta(days=rng.randint(1, 900)))}</modtime>\n")
    parts.append(f"<size>{rng.randint(4_000, 400_000)}</size>\n<charset>utf-8</charset>\n")
    if rng.random() < 0.85:
        count = rng.randint(1, int(ctx.get("max_passages", "2")))
        passages = "".join(
            f"<passage>{_hl(rng.choice(templates).format(**fields), words)}</passage>\n" for _ in range(count)
        )
        parts.append(f"<passages>\n{passages}</passages>\n")
    lang = "<lang>ru</lang>" if rng.random() < 0.8 else ""
    parts.append(
        f"<properties><_PassagesType>0</_PassagesType>{lang}</properties>\n<mime-type>text/html</mime-type>\n"
    )
    if rng.random() < 0.9:
        saved = (
            f"https://hghltd.yandex.net/yandbtm?text={ctx['q']}&url={quote(url, safe='')}&fmode=inject"
            f"&mime=html&l10n=ru&sign={rng.getrandbits(64):016x}&keyno=0"
        )
        parts.append(f"<saved-copy-url>{escape(saved)}</saved-copy-url>\n")
    parts.append("</doc>\n")
    return "".join(parts)
