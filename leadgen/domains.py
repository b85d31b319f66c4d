"""URL and domain canonicalisation: canonical URL, registrable domain (PSL via tldextract, offline), IDN, dedupe hash."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from functools import lru_cache
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

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
ASCII_HOST_RE = re.compile(r"^[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})+$")
IP_LIKE_RE = re.compile(r"^[0-9.]+$|:")
HOST_LABEL_RE = re.compile(r"^[\w-]{1,63}$")
SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
OTHER_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)")
WHITESPACE_RE = re.compile(r"\s")
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


def _to_unicode(host: str) -> str | None:
    """IDNA (UTS 46) round trip: lower-case Unicode form of a host, or None when it is not a valid name."""
    if ASCII_HOST_RE.match(host) and "xn--" not in host:
        return host  # fast path: plain lower-case LDH names are their own IDNA form
    try:
        ascii_host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        return idna.decode(ascii_host)
    except (idna.IDNAError, UnicodeError, ValueError):
        return _lenient_unicode(host)


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
    """The IDNA (punycode) form of a domain, used to compare hosts and to build URLs for tools that need ASCII."""
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
    try:
        parts = urlsplit(text)
        if parts.scheme.lower() not in DEFAULT_PORTS:
            return None
        hostname = parts.hostname
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return None
    return normalise_host(hostname) if hostname else None


@lru_cache(maxsize=262144)
def _registrable(host: str, keep_subdomains: bool) -> str | None:
    stripped = host
    while True:
        shorter = DROP_PREFIX_RE.sub("", stripped, count=1)
        if shorter == stripped or "." not in shorter:
            break
        stripped = shorter
    ascii_host = to_ascii(stripped)
    if ascii_host is None:
        return None
    parts = _EXTRACT.extract_str(ascii_host)
    if not parts.suffix or not parts.domain:
        return None
    ascii_result = ascii_host if keep_subdomains else f"{parts.domain}.{parts.suffix}"
    return normalise_host(ascii_result)


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


def canonical_url(url: str | None, /) -> str | None:
    """https, normalised host, default port dropped, no user info, fragment or tracking parameters; None if not http(s).

    >>> canonical_url("http://WWW.Example.ru:80/a?utm_source=y&id=2#top")
    'https://www.example.ru/a?id=2'
    """
    if not url:
        return None
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
    host = normalise_host(parts.hostname) or _ip_host(parts.hostname)
    if host is None:
        return None
    netloc = host if port in (None, DEFAULT_PORTS["https"], DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = WHITESPACE_RE.sub(lambda m: quote(m.group()), parts.path) or "/"
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair and not is_tracking_param(unquote_plus(pair.partition("=")[0]))
    )
    return urlunsplit(("https", netloc, path, query, ""))


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
