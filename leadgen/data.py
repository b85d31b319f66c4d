"""Domain data kept apart from code: lists of sites that are never a company lead."""

from __future__ import annotations

# Sites excluded inside every search query with the `~~ site:` style minus operators of the query generator.
# The biggest non-company hosts of Russian business results: directories, maps, marketplaces, classifieds,
# job boards, social networks and video. Kept short on purpose (queries are capped at 400 characters);
# the full non-company filter applied to results lives next to it.
MINUS_DOMAINS: frozenset[str] = frozenset(
    {
        "2gis.ru",
        "avito.ru",
        "hh.ru",
        "vk.com",
        "youtube.com",
        "zoon.ru",
        "yell.ru",
        "ozon.ru",
        "wildberries.ru",
        "market.yandex.ru",
        "pulscen.ru",
        "flamp.ru",
        "otzovik.com",
        "irecommend.ru",
        "tiu.ru",
        "rusprofile.ru",
        "list-org.com",
        "wikipedia.org",
    }
)
