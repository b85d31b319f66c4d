"""Pure choice of the pages worth fetching on a company site: home, seed paths, contact-like links."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

from leadgen.contacts.extract import Link, site_host

# Seed paths tried on every site (DESIGN.md), best first.
SEED_PATHS = ("/contacts", "/contact", "/kontakty", "/контакты", "/about")
# Path and link-text words of contact-like pages (Russian and English, transliterated paths too).
CONTACT_PATH_RE = re.compile(
    r"contact|kontakt|контакт|svyaz|связ|rekvizit|реквизит|requisites|feedback|obratnaya|where|kak-proehat|"
    r"how-to-find|adres|address",
    re.I,
)
ABOUT_PATH_RE = re.compile(
    r"about|o-nas|o_nas|onas|o-kompanii|o_kompanii|company|о-нас|о-компании|kompaniya", re.I
)
CONTACT_TEXT_RE = re.compile(
    r"контакт|связаться|связь с нами|обратная связь|реквизит|как (?:нас )?найти|как проехать|адрес|"
    r"contact|get in touch|reach us|requisites|where to find",
    re.I,
)
ABOUT_TEXT_RE = re.compile(r"о нас|о компании|компания|about|who we are|our company", re.I)
SKIP_EXT_RE = re.compile(
    r"\.(?:jpe?g|png|gif|svg|webp|pdf|docx?|xlsx?|zip|rar|mp4|mp3|css|js|xml|json)$", re.I
)


def normalise_url(url: str) -> str:
    """URL without fragment, with a `/` path for the bare host (used as the visited-set key)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def is_same_site(url: str, home_url: str) -> bool:
    host, home = site_host(url), site_host(home_url)
    return bool(host) and (host == home or host.endswith("." + home) or home.endswith("." + host))


def link_score(link: Link) -> int:
    """0 when the link does not look like a contact page, higher for better candidates."""
    path = urlsplit(link.url).path
    score = 0
    if CONTACT_PATH_RE.search(path) or CONTACT_TEXT_RE.search(link.text):
        score = 3 if CONTACT_PATH_RE.search(path) and CONTACT_TEXT_RE.search(link.text) else 2
    elif ABOUT_PATH_RE.search(path) or ABOUT_TEXT_RE.search(link.text):
        score = 1
    return score


def candidate_pages(home_url: str, links: Iterable[Link], /, *, limit: int) -> list[str]:
    """Pages to fetch after the home page: contact-like same-site links first, then the seed paths."""
    home_key = normalise_url(home_url)
    scored: list[tuple[int, int, str]] = []
    for order, link in enumerate(links):
        url = link.url
        if not url.lower().startswith(("http://", "https://")) or SKIP_EXT_RE.search(urlsplit(url).path):
            continue
        if not is_same_site(url, home_url):
            continue
        score = link_score(link)
        if score:
            scored.append((-score, order, normalise_url(url)))
    out: list[str] = []
    for _, _, url in sorted(scored):
        if url != home_key and url not in out:
            out.append(url)
    for path in SEED_PATHS:
        url = normalise_url(urljoin(home_url, path))
        if url != home_key and url not in out and not any(_same_path(url, known) for known in out):
            out.append(url)
    return out[: max(limit, 0)]


def _same_path(a: str, b: str) -> bool:
    return urlsplit(a).path.rstrip("/").lower() == urlsplit(b).path.rstrip("/").lower()
