"""Canonical URL and domain: tables of known cases, IDN, the offline PSL, and hypothesis invariants."""

from __future__ import annotations

import hashlib
import socket

import pytest
import tldextract
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgen import domains
from leadgen.domains import canonical_domain, canonical_url, dedupe_hash, same_domain, to_ascii


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://example.ru/", "example.ru"),
        ("http://WWW.Example.RU./contacts", "example.ru"),
        ("https://m.example.ru/", "example.ru"),
        ("https://www.m.example.ru/", "example.ru"),
        ("https://www2.example.ru/", "example.ru"),
        ("https://spb.shop.example.ru/a?b=c", "example.ru"),
        ("example.ru", "example.ru"),
        ("Example.RU.", "example.ru"),
        ("www.example.ru/path", "example.ru"),
        ("example.ru:8080", "example.ru"),
        ("//cdn.example.ru/x.js", "example.ru"),
        ("https://shop.example.co.uk/", "example.co.uk"),
        ("https://firm.msk.ru/", "firm.msk.ru"),  # PSL private section: msk.ru is a public suffix
        ("https://www.firm.spb.ru/", "firm.spb.ru"),
        ("https://firm.com.ru/", "firm.com.ru"),
        ("https://studio.tilda.ws/", "studio.tilda.ws"),  # site builders shipped in leadgen.data
        ("https://mysite.narod.ru/", "mysite.narod.ru"),
        ("https://user.github.io/page", "user.github.io"),
        ("https://пример.рф/", "пример.рф"),
        ("https://ПРИМЕР.РФ/", "пример.рф"),
        ("http://xn--e1afmkfd.xn--p1ai/", "пример.рф"),
        ("xn--e1afmkfd.xn--p1ai", "пример.рф"),
        ("https://www.окна-мастер.рф/", "окна-мастер.рф"),
        ("https://xn----7sbbuvoegzil.xn--p1ai/", "окна-мастер.рф"),
        ("https://магазин.москва/", "магазин.москва"),
        ("https://a_b.example.ru/", "example.ru"),
        ("https://www.ru/", "www.ru"),  # the registrable label itself is never dropped
        ("https://m.ru/", "m.ru"),
    ],
)
def test_canonical_domain(given: str, expected: str) -> None:
    assert canonical_domain(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        None,
        "",
        "   ",
        "localhost",
        "http://localhost:8000/",
        "http://127.0.0.1/",
        "https://[::1]/",
        "http://192.168.0.10:8080/x",
        "mailto:info@example.ru",
        "tel:+74951234567",
        "javascript:void(0)",
        "ftp://files.example.ru/a.pdf",
        "https://ru/",
        "https://msk.ru/",  # a public suffix, not a registrable domain
        "https://tilda.ws/",
        "http://exa mple.ru/",
        "https://example..ru/",
        "http://example.ru:notaport/",
        "https://" + "a" * 300 + ".ru/",
    ],
)
def test_canonical_domain_rejects_junk(given: str | None) -> None:
    assert canonical_domain(given) is None


def test_keep_subdomains() -> None:
    assert canonical_domain("https://www.spb.Example.ru/", keep_subdomains=True) == "spb.example.ru"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://example.ru", "https://example.ru/"),
        ("https://Example.RU:443/a/b?x=1#frag", "https://example.ru/a/b?x=1"),
        ("http://example.ru:80/", "https://example.ru/"),
        ("http://example.ru:8080/", "https://example.ru:8080/"),
        ("https://www.example.ru/?utm_source=yandex&utm_medium=cpc", "https://www.example.ru/"),
        ("https://example.ru/p?id=5&utm_campaign=x&yclid=123&page=2", "https://example.ru/p?id=5&page=2"),
        ("https://example.ru/p?UTM_Source=a&gclid=1&fbclid=2&_openstat=3&ysclid=4", "https://example.ru/p"),
        (
            "https://example.ru/p?q=%D0%BE%D0%BA%D0%BD%D0%B0&from=main",
            "https://example.ru/p?q=%D0%BE%D0%BA%D0%BD%D0%B0&from=main",
        ),
        ("https://user:secret@example.ru/", "https://example.ru/"),
        ("http://xn--e1afmkfd.xn--p1ai/контакты", "https://пример.рф/контакты"),
        ("https://example.ru./", "https://example.ru/"),
        ("https://example.ru/a b", "https://example.ru/a%20b"),
        ("//example.ru/x", "https://example.ru/x"),
        ("https://example.ru/?a=1&&b=2&", "https://example.ru/?a=1&b=2"),
        ("https://example.ru/?%75tm_source=x&utm%5Fmedium=y&a+b=1&yc%6Cid=2", "https://example.ru/?a+b=1"),
    ],
)
def test_canonical_url(given: str, expected: str) -> None:
    assert canonical_url(given) == expected


@pytest.mark.parametrize(
    "given", [None, "", "example.ru", "mailto:a@b.ru", "ftp://a.ru/", "https:///path", "http://:80/"]
)
def test_canonical_url_rejects(given: str | None) -> None:
    assert canonical_url(given) is None


def test_dedupe_hash_is_sha1_of_canonical_domain() -> None:
    assert dedupe_hash("example.ru") == hashlib.sha1(b"example.ru").hexdigest()
    assert dedupe_hash("пример.рф") == hashlib.sha1("пример.рф".encode()).hexdigest()
    assert len(dedupe_hash("a.ru")) == 40


def test_idn_compared_via_idna() -> None:
    assert same_domain("ПРИМЕР.рф", "xn--e1afmkfd.xn--p1ai")
    assert to_ascii("пример.рф") == "xn--e1afmkfd.xn--p1ai"
    assert not same_domain("пример.рф", "primer.rf")


def test_public_suffix_list_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh extractor built like leadgen's loads the bundled snapshot with sockets and disk cache unavailable."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)
    assert extractor("https://www.firm.msk.ru/").top_domain_under_public_suffix == "firm.msk.ru"
    assert domains._EXTRACT.suffix_list_urls == ()
    assert domains._EXTRACT._cache.enabled is False


LABEL = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789-абвгдеёжзийклмнопрстуфхцчшщъыьэюя", min_size=1, max_size=12
)
HOSTS = st.builds(
    lambda prefix, labels, tld: ".".join([*prefix, *labels, tld]),
    st.lists(st.sampled_from(["www", "m", "WWW", "spb"]), max_size=2),
    st.lists(LABEL, min_size=1, max_size=3),
    st.sampled_from(["ru", "рф", "com", "msk.ru", "co.uk", "xn--p1ai", "москва", "org.ru"]),
)
URLS = st.builds(
    lambda scheme, host, path, query: f"{scheme}://{host}/{path}{query}",
    st.sampled_from(["http", "https", "HTTP"]),
    HOSTS,
    st.text(alphabet="abc/-_%.", max_size=10),
    st.sampled_from(["", "?a=1", "?utm_source=x&a=2", "#frag", "?yclid=1#f"]),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(URLS, HOSTS, st.text(max_size=40)))
def test_canonical_domain_is_idempotent_and_clean(value: str) -> None:
    domain = canonical_domain(value)
    if domain is None:
        return
    assert canonical_domain(domain) == domain
    assert domain == domain.lower()
    assert "://" not in domain and ":" not in domain and "/" not in domain
    # `www.`/`m.` stay only when they are the registrable label itself (m.msk.ru: msk.ru is a public suffix).
    assert not domain.startswith(("www.", "m.")) or canonical_domain(domain.split(".", 1)[1]) is None
    assert not domain.endswith(".")


@settings(max_examples=300, deadline=None)
@given(st.one_of(URLS, st.text(max_size=40)))
def test_canonical_url_is_idempotent(value: str) -> None:
    url = canonical_url(value)
    if url is None:
        return
    assert canonical_url(url) == url
    assert url.startswith("https://")
    assert "#" not in url and "utm_" not in url.lower()
    assert canonical_domain(url) == canonical_domain(value)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(URLS, st.text(alphabet="htps:/@?#&=.-_ aбвWX0%[]:", max_size=40).map(lambda t: "http://" + t))
)
def test_fast_url_split_agrees_with_urlsplit(value: str) -> None:
    fast = domains.FAST_URL_RE.fullmatch(value)
    if fast is None:
        return
    slow = domains._split_slow(value)
    assert slow is not None
    scheme, host, port, path, query = slow
    assert (scheme, port, path, query) == (
        fast.group(1).lower(),
        None,
        fast.group(3) or "",
        fast.group(4) or "",
    )
    assert domains.normalise_host(host) == domains.normalise_host(fast.group(2))


CYRILLIC = st.text(alphabet="абвгдеёжзийклмнопрстуфхцчшщъыьэюяabcz019-", min_size=1, max_size=20)


@settings(max_examples=400, deadline=None)
@given(st.lists(CYRILLIC, min_size=2, max_size=4).map(".".join))
def test_cyrillic_fast_path_agrees_with_idna(host: str) -> None:
    fast = domains._to_unicode(host)
    domains_host = host
    try:
        import idna

        slow = idna.decode(idna.encode(domains_host, uts46=True, transitional=False).decode("ascii"))
    except (idna.IDNAError, UnicodeError, ValueError):
        slow = domains._lenient_unicode(domains_host)
    assert fast == slow


@pytest.mark.parametrize(
    ("value", "expected"),
    [("m.msk.ru", "m.msk.ru"), ("http://0.m.msk.ru/", "m.msk.ru"), ("http://www.m.msk.ru/", "m.msk.ru")],
)
def test_a_prefix_that_is_the_registrable_label_is_kept(value: str, expected: str) -> None:
    assert canonical_domain(value) == expected


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        URLS, st.text(alphabet="htpsHTPS:/@?#&=.-_ aбвWX0%[]:\t", max_size=40).map(lambda t: "http://" + t)
    )
)
def test_plain_url_regex_agrees_with_the_full_one(value: str) -> None:
    """PLAIN_URL_RE is tried first: where it matches, FAST_URL_RE matches with the same groups."""
    plain = domains.PLAIN_URL_RE.fullmatch(value)
    if plain is None:
        return
    fast = domains.FAST_URL_RE.fullmatch(value)
    assert fast is not None and fast.groups() == plain.groups()
