"""URL and domain canonicalisation: canonical URL, registrable domain (PSL via tldextract, offline), IDN, dedupe hash.

The one rule for hosts, domains and the domain of an email address: lower case, Unicode (U-labels), no trailing
dot (`Пример.РФ.`, `xn--e1afmkfd.xn--p1ai` -> `пример.рф`). Companies, contacts and opt-outs are keyed by it;
`to_ascii`/`ascii_email` give the punycode spelling for SMTP, URLs and rows written before the rule.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote_plus, urlsplit

import idna
import tldextract

from leadgen.data import SITE_BUILDER_SUFFIXES

# Query parameters that only track a click and never select content. Sources: Google Analytics campaign
# parameters (utm_*), click ids of Yandex Direct/Metrica (yclid, ysclid, _openstat), Google Ads (gclid, dclid,
# gbraid, wbraid), Facebook (fbclid), Microsoft Ads (msclkid), Mailchimp (mc_cid, mc_eid), VK Ads (rb_clickid),
# roistat and Instagram (igshid).
TRACKING_PARAM_PREFIXES = ("utm_",)
TRACKING_PARAMS = frozenset(
    {
        "yclid",
        "ysclid",
        "_openstat",
        "openstat",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "fbclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "rb_clickid",
        "roistat",
        "roistat_visit",
        "igshid",
        "_ga",
        "_gl",
        "etext",
        "from_block",
    }
)

# Host prefixes that never name a different company: `www.`, `www2.`, `m.` (mobile version).
DROP_PREFIX_RE = re.compile(r"^(?:www\d*|m)\.")
DROP_PREFIX_STARTS = ("www", "m.")
ASCII_HOST_RE = re.compile(r"^[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})+$")
CYRILLIC_HOST_RE = re.compile(r"^[a-z0-9а-яё-]{1,63}(?:\.[a-z0-9а-яё-]{1,63})+$")
IP_LIKE_RE = re.compile(r"^[0-9.]+$|:")
HOST_LABEL_RE = re.compile(r"^[\w-]{1,63}$")
SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
OTHER_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)")
WHITESPACE_RE = re.compile(r"\s")
# Fast path for the common shape (http(s), no whitespace, no port, no IP-literal brackets); anything else goes
# through urllib.parse.urlsplit. Both paths give the same answer (tests/test_domains.py checks it).
FAST_URL_RE = re.compile(
    r"(https?)://(?:[^/?#\s\[\]]*@)?([^/?#:@\[\]\s]+)(/[^?#\s]*)?(?:\?([^#\s]*))?(?:#\S*)?", re.IGNORECASE
)
# The same without user info, tried first: where it matches, FAST_URL_RE matches with the same groups (no `@`
# comes before the host's end, so the user-info part cannot match), and it saves that part's backtracking.
PLAIN_URL_RE = re.compile(r"(https?)://([^/?#:@\[\]\s]+)(/[^?#\s]*)?(?:\?([^#\s]*))?(?:#\S*)?", re.IGNORECASE)
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_HOST_LENGTH = 253

# The Public Suffix List snapshot bundled with tldextract: no suffix_list_urls (never fetched), no cache_dir
# (never written). Private suffixes are on, so `firm.msk.ru` or `firm.github.io` stay distinct companies;
# SITE_BUILDER_SUFFIXES adds Russian site builders that the PSL does not list (`firm.tilda.ws`).
_EXTRACT = tldextract.TLDExtract(
    suffix_list_urls=(),
    cache_dir=None,
    fallback_to_snapshot=True,
    include_psl_private_domains=True,
    extra_suffixes=tuple(sorted(SITE_BUILDER_SUFFIXES)),
)


def public_suffix(host: str, /, *, private: bool = True) -> str:
    """The public suffix of a normalised host by the bundled list ("" when none); ICANN section only unless
    `private`. One parsed list serves every caller (each parsed copy holds ~5 MB)."""
    return _EXTRACT.extract_str(host, include_psl_private_domains=private).suffix


def _to_unicode(host: str) -> str | None:
    """IDNA (UTS 46) round trip: lower-case Unicode form of a host, or None when it is not a valid name."""
    if ASCII_HOST_RE.match(host) and "xn--" not in host:
        return host  # fast path: plain lower-case LDH names are their own IDNA form
    if CYRILLIC_HOST_RE.match(host) and not any(_odd_label(label) for label in host.split(".")):
        return host  # fast path: lower-case Cyrillic/Latin labels are already their UTS 46 (NFC) form
    try:
        ascii_host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        return idna.decode(ascii_host)
    except (idna.IDNAError, UnicodeError, ValueError):
        return _lenient_unicode(host)


def _odd_label(label: str) -> bool:
    """Labels IDNA treats specially: leading/trailing hyphen, `??--` (reserved), or too long once encoded."""
    return (
        label.startswith("-")
        or label.endswith("-")
        or label[2:4] == "--"
        or (not label.isascii() and len(label) > 57)
    )


def _lenient_unicode(host: str) -> str | None:
    """Fallback for real-world hosts IDNA 2008 rejects (underscores, leading digits + hyphen), labels checked one by one."""
    labels = host.split(".")
    out = []
    for label in labels:
        if label.startswith("xn--"):
            try:
                label = idna.decode(label)
            except (idna.IDNAError, UnicodeError, ValueError):
                return None
        if not HOST_LABEL_RE.match(label):
            return None
        out.append(label)
    return ".".join(out)


@lru_cache(maxsize=262144)
def normalise_host(host: str, /) -> str | None:
    """Lower-case Unicode host without trailing dot or port; None for IP addresses and invalid names."""
    host = host.strip().rstrip(".").lower()
    if not host or len(host) > MAX_HOST_LENGTH or "." not in host:
        return None
    if host.startswith("[") or _is_ip(host):
        return None
    if ".." in host or " " in host:
        return None
    unicode_host = _to_unicode(host)
    if not unicode_host or "." not in unicode_host:
        return None
    return unicode_host


def _is_ip(host: str) -> bool:
    if not IP_LIKE_RE.search(host):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _ip_host(host: str) -> str | None:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def to_ascii(domain: str, /) -> str | None:
    """The IDNA (punycode) form of a domain, lower case without a trailing dot: the spelling DNS, SMTP and URLs
    for tools that need ASCII use (`Пример.РФ.` -> `xn--e1afmkfd.xn--p1ai`); None when it cannot be encoded."""
    domain = domain.strip().rstrip(".")
    if domain.isascii():
        return domain.lower()
    try:
        return idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        try:
            return domain.encode("idna").decode("ascii")
        except (UnicodeError, ValueError):
            return None


def host_of(url: str, /) -> str | None:
    """The normalised host of an http(s) URL or of a bare host name; None for anything else."""
    text = url.strip()
    if not text:
        return None
    if not SCHEME_RE.match(text):
        if OTHER_SCHEME_RE.match(text):
            return None  # mailto:, tel:, javascript:, ...
        if text.startswith("//"):
            text = "http:" + text
        elif "/" in text.split("?")[0].split("#")[0] or ":" in text:
            text = "http://" + text
        else:
            return normalise_host(text)
    fast = FAST_URL_RE.fullmatch(text)
    if fast is not None:
        return normalise_host(fast.group(2))
    try:
        parts = urlsplit(text)
        if parts.scheme.lower() not in DEFAULT_PORTS:
            return None
        hostname = parts.hostname
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return None
    return normalise_host(hostname) if hostname else None


def _registrable(host: str, keep_subdomains: bool) -> str | None:
    stripped = host
    while stripped.startswith(DROP_PREFIX_STARTS):
        shorter = DROP_PREFIX_RE.sub("", stripped, count=1)
        # `m.msk.ru` is a registrable domain of its own (msk.ru is a public suffix): never strip down to a suffix.
        if shorter == stripped or "." not in shorter or _registrable_stripped(shorter, False) is None:
            break
        stripped = shorter
    return _registrable_stripped(stripped, keep_subdomains)


@lru_cache(maxsize=524288)
def _registrable_stripped(stripped: str, keep_subdomains: bool) -> str | None:
    # `stripped` is a normalised (Unicode) host; tldextract matches Unicode suffixes (`рф`, `москва`) directly.
    parts = _EXTRACT.extract_str(stripped)
    if not parts.suffix or not parts.domain:
        return None
    return normalise_host(stripped if keep_subdomains else f"{parts.domain}.{parts.suffix}")


def canonical_domain(url_or_host: str | None, /, *, keep_subdomains: bool = False) -> str | None:
    """Registrable domain of a URL or host in lower-case Unicode (`www.`/`m.` dropped); None for junk and IPs.

    >>> canonical_domain("https://WWW.Shop.Example.co.uk./path")
    'example.co.uk'
    >>> canonical_domain("xn--e1afmkfd.xn--p1ai")
    'пример.рф'
    """
    if not url_or_host:
        return None
    host = host_of(url_or_host)
    if host is None:
        return None
    return _registrable(host, keep_subdomains)


def is_tracking_param(name: str, /) -> bool:
    """True for click/campaign tracking parameters (utm_*, yclid, gclid, ...)."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PARAM_PREFIXES)


@lru_cache(maxsize=4096)
def _is_tracking_raw(name: str, /) -> bool:
    """`is_tracking_param` of a parameter name as it stands in a query string (few distinct names: cached)."""
    return is_tracking_param(unquote_plus(name))


@dataclass(frozen=True, slots=True)
class UrlParts:
    """A canonicalised http(s) URL with its normalised host and registrable domain (None for IP hosts)."""

    url: str
    host: str
    domain: str | None


def _split(url: str) -> tuple[str, str, int | None, str, str] | None:
    """(scheme, raw host, port, path, query) of an http(s) URL, or None."""
    fast = PLAIN_URL_RE.fullmatch(url) or FAST_URL_RE.fullmatch(url)
    if fast is not None:
        scheme, host, path, query = fast.groups()
        return scheme.lower(), host, None, path or "", query or ""
    return _split_slow(url)


def _split_slow(url: str) -> tuple[str, str, int | None, str, str] | None:
    text = url.strip()
    if text.startswith("//"):
        text = "http:" + text
    try:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        port = parts.port
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname, port, parts.path, parts.query


@lru_cache(maxsize=262144)
def _host_parts(raw_host: str, /) -> tuple[str | None, str | None]:
    """(normalised host, registrable domain) of a URL's raw host; an IP host has no domain, junk has no host.
    Cached: result pages repeat hosts heavily."""
    host = normalise_host(raw_host)
    if host is None:
        return _ip_host(raw_host), None
    return host, _registrable(host, False)


def canonical_parts(url: str | None, /) -> tuple[str, str, str | None] | None:
    """`canonicalise` as a plain (url, host, domain) tuple (what the bulk planner reads per result)."""
    if not url:
        return None
    split = _split(url)
    if split is None:
        return None
    scheme, raw_host, port, path, query = split
    host, domain = _host_parts(raw_host)
    if host is None:
        return None
    netloc = host if port in (None, DEFAULT_PORTS["https"], DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if not path:
        path = "/"
    elif WHITESPACE_RE.search(path):
        path = WHITESPACE_RE.sub(lambda m: quote(m.group()), path)
    if query:
        query = "&".join(
            pair for pair in query.split("&") if pair and not _is_tracking_raw(pair.partition("=")[0])
        )
    return (f"https://{netloc}{path}?{query}" if query else f"https://{netloc}{path}"), host, domain


def canonicalise(url: str | None, /) -> UrlParts | None:
    """Canonical URL, host and registrable domain in one pass; None when `url` is not an http(s) URL."""
    parts = canonical_parts(url)
    return UrlParts(*parts) if parts is not None else None


def canonical_url(url: str | None, /) -> str | None:
    """https, normalised host, default port dropped, no user info, fragment or tracking parameters; None if not http(s).

    >>> canonical_url("http://WWW.Example.ru:80/a?utm_source=y&id=2#top")
    'https://www.example.ru/a?id=2'
    """
    parts = canonicalise(url)
    return parts.url if parts is not None else None


def dedupe_hash(domain: str, /) -> str:
    """SHA-1 hex digest of a canonical domain (its UTF-8 bytes): the companies.dedupe_hash key."""
    return hashlib.sha1(domain.encode("utf-8"), usedforsecurity=False).hexdigest()


def same_domain(a: str, b: str, /) -> bool:
    """Compare two domains through their IDNA form (`пример.рф` equals `xn--e1afmkfd.xn--p1ai`)."""
    left, right = canonical_domain(a, keep_subdomains=True), canonical_domain(b, keep_subdomains=True)
    return left is not None and left == right


def parent_domains(host: str, /) -> list[str]:
    """The host and each parent down to two labels: `a.b.c.ru` → [`a.b.c.ru`, `b.c.ru`, `c.ru`]."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def domain_key(value: str, /) -> str | None:
    """A domain as a person or a file gives it (URL, `www.` host, `@domain`, `mailto:domain`), in the one
    canonical form with subdomains kept and `www.`/`m.` dropped; None when it is not a domain name.

    >>> domain_key("https://WWW.Пример.РФ/contacts")
    'пример.рф'
    """
    text = value.strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    return canonical_domain(text.lstrip("@"), keep_subdomains=True)


def listed_host(value: str, /) -> str | None:
    """A host as a list names it (URL or host) in `domain_key`'s form (subdomains kept, `www.`/`m.` dropped);
    a public suffix that `domain_key` refuses (`gov.ru`, `msk.ru`) stays the normalised host itself, so a list
    can name a whole zone. None for junk and IPs."""
    return domain_key(value) or host_of(value.strip())


def email_key(value: str, /) -> str:
    """An email address in the canonical form: trimmed, lower case, its domain normalised like every host
    (`Info@XN--E1AFMKFD.XN--P1AI` -> `info@пример.рф`); text without `@` comes back trimmed and lower-cased."""
    text = value.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    domain = domain.rstrip(".")
    return f"{local}@{normalise_host(domain) or domain}"


def ascii_email(value: str, /) -> str:
    """`email_key` with the domain in punycode (`info@xn--e1afmkfd.xn--p1ai`): the spelling forgotten-address
    hashes are taken over and that rows stored before the Unicode rule may hold."""
    local, _, domain = email_key(value).rpartition("@")
    return f"{local}@{to_ascii(domain) or domain}" if local or domain else ""


def domain_spellings(domain: str, /) -> set[str]:
    """The domain and each parent (`parent_domains`) in both the Unicode and the punycode spelling, for matching
    stored values whichever spelling they were written in (an opt-out of `пример.рф` covers `xn--e1afmkfd.xn--p1ai`
    and `shop.пример.рф`)."""
    forms: set[str] = set()
    raw = domain.strip().rstrip(".").lower()
    for variant in {raw, domain_key(raw) or raw}:
        for spelling in (variant, to_ascii(variant), normalise_host(variant)):
            if spelling:
                forms.update(parent_domains(spelling))
    return forms


def clear_caches() -> None:
    """Empty the per-host caches (benchmarks use it to measure a cold run)."""
    normalise_host.cache_clear()
    _registrable_stripped.cache_clear()
    _host_parts.cache_clear()
    _is_tracking_raw.cache_clear()
