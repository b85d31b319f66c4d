"""The non-company filter: the shipped list, subdomains, MINUS_DOMAINS and the settings extensions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgen.data import DIRECTORY_DOMAINS, DIRECTORY_DOMAINS_BY_CATEGORY, MINUS_DOMAINS
from leadgen.domains import canonical_domain, canonicalise, normalise_host
from leadgen.errors import ConfigurationError
from leadgen.serp import DomainFilter, SerpDocument
from leadgen.serp.filter import SKIP_NO_DOMAIN, read_list_file
from leadgen.serp.rows import PageTracker, records_from_raw
from leadgen.settings import Settings

FILTER = DomainFilter.from_settings(None)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "serp.md"


def test_shipped_list_is_large_categorised_and_clean() -> None:
    assert len(DIRECTORY_DOMAINS) >= 150
    assert {
        "directory",
        "maps",
        "aggregator",
        "marketplace",
        "jobs",
        "social",
        "video",
        "media",
        "reviews",
    } <= set(DIRECTORY_DOMAINS_BY_CATEGORY)
    for domain in DIRECTORY_DOMAINS:
        assert domain == domain.lower().strip() and not domain.startswith("www.")
        assert normalise_host(domain) == domain, domain
    seen: set[str] = set()
    for domains in DIRECTORY_DOMAINS_BY_CATEGORY.values():
        assert not (seen & domains), "a domain is listed in two categories"
        seen |= domains


def test_minus_domains_are_a_subset_of_what_the_filter_skips() -> None:
    assert MINUS_DOMAINS <= DIRECTORY_DOMAINS
    for domain in MINUS_DOMAINS:
        assert FILTER.skip_reason(f"https://{domain}/page", canonical_domain(domain)) is not None
        assert FILTER.skip_reason(f"https://www.{domain}/", canonical_domain(domain)) is not None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://2gis.ru/moscow/firm/70000001", "directory:maps"),
        ("https://yandex.ru/maps/org/okna/1234/", "directory:maps"),
        ("https://market.yandex.ru/product/1", "directory:marketplace"),  # the most specific entry wins
        ("https://uslugi.yandex.ru/213-moscow/category", "directory:aggregator"),
        ("https://spb.hh.ru/vacancy/1", "directory:jobs"),
        ("https://m.vk.com/club1", "directory:social"),
        ("https://www.youtube.com/watch?v=x", "directory:video"),
        ("https://ru.wikipedia.org/wiki/Окно", "directory:reference"),
        ("https://www.rusprofile.ru/id/1", "directory:registry"),
        ("https://otzovik.com/reviews/okna/", "directory:reviews"),
        ("https://msk.zoon.ru/repair/", "directory:directory"),
        ("https://www.ozon.ru/product/1", "directory:marketplace"),
        ("https://t.me/oknastroy", "directory:social"),
        ("https://vc.ru/u/1", "directory:media"),
        ("https://okna-stroy.ru/", None),
        ("https://yandex-okna.ru/", None),  # a look-alike is not a subdomain
        ("https://notavito.ru/", None),
        ("https://окна.рф/", None),
        ("http://192.168.1.10/", "no_domain"),
    ],
)
def test_skip_reasons(url: str, reason: str | None) -> None:
    assert FILTER.skip_reason(url, canonical_domain(url)) == reason


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["www", "m", "spb", "msk", "okna", "2gis", "avito", "vk"]), max_size=3),
    st.sampled_from(["ru", "com", "msk.ru", "рф", "avito.ru", "2gis.ru", "vk.com", "yandex.ru", "hh.ru"]),
    st.integers(min_value=0, max_value=4),
)
def test_skip_reason_for_host_is_the_host_walk_then_the_domain_walk(
    labels: list[str], suffix: str, cut: int
) -> None:
    """The shortcut (a domain inside the host was already looked at) gives what the two walks give."""
    host = ".".join([*labels, suffix])
    parts = host.split(".")
    candidates = [None, ".".join(parts[min(cut, len(parts) - 1) :]), "okna.ru", "vk.com"]
    for domain in candidates:
        expected = FILTER.reason_for_host(host) or (
            SKIP_NO_DOMAIN if domain is None else FILTER.reason_for_host(domain)
        )
        assert FILTER.skip_reason_for_host(host, domain) == expected


def test_settings_extend_the_filter() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        directory_domains_extra="Catalog-Firm.ru, https://www.okna-rating.рф/, xn--e1afmkfd.xn--p1ai",
        planning_minus_domains=["myminus.ru"],
    )
    filt = DomainFilter.from_settings(settings)
    assert filt.skip_reason("https://spb.catalog-firm.ru/x", "catalog-firm.ru") == "directory:extra"
    assert filt.skip_reason("https://okna-rating.рф/", "okna-rating.рф") == "directory:extra"
    assert filt.skip_reason("https://пример.рф/", "пример.рф") == "directory:extra"
    assert filt.skip_reason("https://myminus.ru/", "myminus.ru") == "minus_domain"
    assert filt.skip_reason("https://avito.ru/", "avito.ru") == "directory:aggregator"
    assert "https://m.catalog-firm.ru/" in filt and "https://firm.ru/" not in filt


def test_list_entries_follow_the_one_host_rule() -> None:
    """Entries are keyed by leadgen.domains.listed_host: `www.`/`m.` dropped as for every domain, subdomains
    kept, and a public suffix (`gov.ru`) kept whole so a list can name a zone."""
    filt = DomainFilter.from_lists(["www2.Okna.ru", "m.spb.catalog.ru", "https://WWW.Пример.РФ/x"], [])
    assert {"okna.ru", "spb.catalog.ru", "пример.рф"} <= set(filt.reasons)
    assert "https://spb.catalog.ru/" in filt and "https://catalog.ru/" not in filt
    assert filt.skip_reason("https://ivanovo.gov.ru/", "ivanovo.gov.ru") is not None  # the shipped zone entry


def test_docs_describe_every_category() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for category in DIRECTORY_DOMAINS_BY_CATEGORY:
        assert re.search(rf"`directory:{category}`", text), category
    assert "DIRECTORY_DOMAINS_EXTRA" in text


# --- issue 17: provenance, list file, result signals, repeat ---------------------------------------------------------


def _doc(
    url: str, title: str | None = "Окна Плюс — пластиковые окна", snippet: str | None = None
) -> SerpDocument:
    parts = canonicalise(url)
    assert parts is not None
    return SerpDocument(url=url, canonical_url=parts.url, domain=parts.domain, host=parts.host, title=title,
                        snippet=snippet, passages=(), headline=None, position=1, page=0)  # fmt: skip


def test_each_list_entry_remembers_its_source(tmp_path: Path) -> None:
    listing = tmp_path / "directories.tsv"
    listing.write_text(
        "# domain\tcategory\tsource\n"
        "okna-rating.рф\treviews\tcross-query\n"
        "https://www.Catalog-Firm.ru/x  directory:directory\n"
        "xn--e1afmkfd.xn--p1ai\n"
        "\n",
        encoding="utf-8",
    )
    settings = Settings(
        _env_file=None, directory_domains_file=listing, directory_domains_extra="extra-firm.ru"
    )  # type: ignore[call-arg]
    filt = DomainFilter.from_settings(settings)
    cases = [
        ("https://okna-rating.рф/", "directory:reviews", "cross-query"),
        ("https://spb.catalog-firm.ru/", "directory:directory", "file"),
        ("https://пример.рф/", "directory:extra", "file"),
        ("https://extra-firm.ru/", "directory:extra", "settings"),
        ("https://2gis.ru/kazan", "directory:maps", "shipped"),
        ("https://ati.su/gruzy", "directory:freight", "shipped"),
        ("https://okna.ru/search?q=x", "directory:path", "signal"),
        ("https://okna.ru/", None, None),
    ]
    for url, reason, source in cases:
        doc = _doc(url)
        got = filt.classify(doc.host, doc.domain, doc.canonical_url, doc.title, doc.snippet)
        assert (got, filt.source_of(doc.host, doc.domain, got)) == (reason, source), url
    assert filt.source_of("okna.ru", "okna.ru", "directory:cross-query") == "cross-query"
    assert filt.source_of("okna.ru", "okna.ru", "repeat") is None


@pytest.mark.parametrize("line", ["not a domain\n", "okna.ru " + "x" * 50 + "\n"])
def test_a_bad_list_file_is_a_configuration_error(tmp_path: Path, line: str) -> None:
    listing = tmp_path / "bad.txt"
    listing.write_text(line, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"bad\.txt:1"):
        read_list_file(listing)
    with pytest.raises(ConfigurationError, match="cannot read"):
        read_list_file(tmp_path / "missing.txt")


def test_heuristics_can_be_turned_off() -> None:
    off = DomainFilter.from_settings(Settings(_env_file=None, directory_heuristics=False))  # type: ignore[call-arg]
    doc = _doc("https://kazan24.ru/news/1", "Главные новости Казани")
    assert off.classify(doc.host, doc.domain, doc.canonical_url, doc.title, doc.snippet) is None
    assert FILTER.classify(doc.host, doc.domain, doc.canonical_url, doc.title, doc.snippet) == "portal:city"


def test_classify_page_marks_later_results_of_a_domain_as_repeat() -> None:
    docs = [
        _doc("https://msk.okna-plus.ru/"),
        _doc("https://2gis.ru/moscow/firm/1"),
        _doc("https://okna-plus.ru/kontakty/"),  # same registrable domain as position 1
        _doc("https://okna-plus.ru/search?q=okna"),  # its own directory signal, but the company is kept above
        _doc("https://2gis.ru/moscow/firm/2"),  # a skipped domain again: its own reason
        _doc("https://dveri.ru/otzyvy/", "Отзывы, рейтинг — Двери"),  # skipped by its title ...
        _doc("https://dveri.ru/"),  # ... and the site's other results go with it (a listing's card pages)
        _doc("https://dveri.ru/o-nas/", "Вопрос юристу"),  # a reason of its own stays
        _doc("http://192.168.0.1/"),
        _doc("http://192.168.0.1/x"),
    ]
    assert FILTER.classify_page(docs) == [
        None,
        "directory:maps",
        "repeat",
        "repeat",
        "directory:maps",
        "directory:title",
        "repeat",
        "qa",
        "no_domain",
        "no_domain",
    ]


def test_page_tracker_spans_chunks_and_resets_per_page() -> None:
    raw = [
        ("op1", "https://okna.ru/", "Окна", None, 1, 0),
        ("op1", "https://www.okna.ru/kontakty", "Контакты", None, 2, 0),
        ("op1", "https://okna.ru/", "Окна", None, 1, 1),  # next page of the same operation
        ("op2", "https://okna.ru/", "Окна", None, 1, 0),
    ]
    tracker = PageTracker()
    records = records_from_raw(raw[:1], FILTER, tracker) + records_from_raw(raw[1:], FILTER, tracker)
    assert [r[7] for r in records] == [None, "repeat", None, None]
    assert [r[7] for r in records_from_raw(raw[1:2], FILTER)] == [None]  # a fresh tracker knows nothing
