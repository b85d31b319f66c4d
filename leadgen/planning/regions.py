"""Yandex search region ids (`lr`): the shipped dictionary and a lookup tolerant to case, ё/е and spellings."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

RegionKind = Literal["country", "subject", "city"]

RUSSIA_ID = 225

# Prefixes and suffixes people put around a place name: "г. Москва", "город Казань", "Омск г." (FIAS style).
_PREFIX_RE = re.compile(r"^(?:г|гор|город|city)\.?\s+", re.IGNORECASE)
_SUFFIX_RE = re.compile(r"\s+(?:г|гор|город)\.?$", re.IGNORECASE)
_SEPARATORS_RE = re.compile(r"[\s\-‐‑‒–—_.,/]+")


@dataclass(frozen=True, slots=True)
class Region:
    """One entry of the region dictionary; `verified` names the source the id was checked against, or None."""

    id: int
    name: str
    kind: RegionKind
    country: int
    verified: str | None

    @property
    def code(self) -> str:
        """The id as the string the Search API expects in `region`."""
        return str(self.id)


def normalise_place(text: str, /) -> str:
    """Lookup key of a place name: case-folded, ё→е, hyphens/dots/underscores as spaces, no `г.` prefix."""
    key = text.strip().casefold().replace("ё", "е")
    key = _SEPARATORS_RE.sub(" ", key).strip()
    key = _SUFFIX_RE.sub("", _PREFIX_RE.sub("", key))
    return key.replace("(", "").replace(")", "").strip()


@cache
def _table() -> tuple[dict[str, Region], tuple[Region, ...]]:
    raw = json.loads(resources.files("leadgen.planning").joinpath("regions.json").read_text("utf-8"))
    index: dict[str, Region] = {}
    regions: list[Region] = []
    for item in raw["regions"]:
        region = Region(item["id"], item["name"], item["kind"], item["country"], item["verified"])
        regions.append(region)
        for name in (item["name"], *item["aliases"]):
            index.setdefault(normalise_place(name), region)
    return index, tuple(regions)


def all_regions() -> tuple[Region, ...]:
    """Every shipped region, in file order."""
    return _table()[1]


def lookup_region(name: str, /) -> Region | None:
    """The region called `name` (any kind), or None when the dictionary does not know it."""
    index = _table()[0]
    key = normalise_place(name)
    if not key:
        return None
    if key in index:
        return index[key]
    # "Благовещенск (Амурская область)", "Казань, Татарстан": fall back to the part before the qualifier
    head = re.split(r"[(,]", name, maxsplit=1)[0]
    if head != name:
        return index.get(normalise_place(head))
    return None


def region_by_id(region_id: int, /) -> Region | None:
    """The shipped region with this id, or None."""
    for region in all_regions():
        if region.id == region_id:
            return region
    return None
