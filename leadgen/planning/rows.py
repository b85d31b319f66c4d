"""Validated NICHES_INPUT rows: column names, the row and error value types, and `validate_row`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from leadgen.batch_tags import batch_tag_problem
from leadgen.planning.regions import RUSSIA_ID, Region, lookup_region, region_by_id

# Input columns and the header spellings accepted for them (compared after normalise_header).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "niche": ("niche", "ниша"),
    "city": ("city", "город"),
    "country": ("country", "страна"),
    "batch_tag": ("batch_tag", "batch", "batch tag", "тег", "партия"),
    "lr": ("lr", "region_code", "region", "регион"),
}
# Columns written back per row (issue 8 seed); never read as input extras.
STATUS_COLUMNS: tuple[str, ...] = (
    "status",
    "generated_count",
    "db_inserted_count",
    "db_duplicate_count",
    "db_first_scheduled_for",
    "db_last_scheduled_for",
    "last_error",
)
# Header spellings accepted for an existing status column besides the names above.
STATUS_ALIASES: dict[str, str] = {"статус": "status", "ошибка": "last_error"}
# Row statuses that mean "leave this row alone".
SKIP_STATUSES = frozenset({"skip", "paused", "disabled", "off"})

NICHE_MAX_CHARS = 100
LR_MAX = 999_999  # Yandex region ids are below a million; 0 and 10^23 are typos
# Yandex query-language syntax that must not come from the input (docs/planning.md, "Query syntax").
OPERATOR_CHARS_RE = re.compile(r"[\"|\[\]()~&<>]")
OPERATOR_WORD_RE = re.compile(
    r"(?:^|\s)(?:[-+!]\S|(?:site|host|rhost|url|inurl|mime|lang|date|domain|title):)", re.IGNORECASE
)
_SPACES_RE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class NicheRow:
    """A valid input row with its resolved Yandex region; `row_number` is the 1-based row in the sheet/file."""

    row_number: int
    niche: str
    city: str | None
    country: str | None
    batch_tag: str | None
    region_code: str
    region_name: str
    region_verified: bool
    extras: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RowError:
    """An invalid input row and why; it is reported and written back as `error`, never dropped."""

    row_number: int
    reason: str
    batch_tag: str | None = None
    raw: tuple[tuple[str, str], ...] = ()


def normalise_header(name: str, /) -> str:
    return _SPACES_RE.sub(" ", name.strip().casefold().replace("ё", "е"))


def canonical_column(header: str, /) -> str | None:
    """The input column a header cell stands for (`niche`, `city`, ...), a status column name, or None."""
    key = normalise_header(header)
    for column, aliases in COLUMN_ALIASES.items():
        if key in aliases:
            return column
    if key in STATUS_COLUMNS:
        return key
    return STATUS_ALIASES.get(key)


def clean_text(value: str | None, /) -> str:
    return _SPACES_RE.sub(" ", (value or "").replace("\u00a0", " ")).strip()


def _niche_problem(niche: str) -> str | None:
    if not niche:
        return "niche is empty"
    if len(niche) > NICHE_MAX_CHARS:
        return f"niche is longer than {NICHE_MAX_CHARS} characters"
    if not any(ch.isalpha() for ch in niche):
        return "niche has no letters"
    if OPERATOR_CHARS_RE.search(niche) or OPERATOR_WORD_RE.search(niche):
        return "niche contains search operators; write plain words"
    return None


def _resolve_region(city: str, country: str, lr: str) -> Region | str:
    """The region of a row, or the reason it has none."""
    country_region: Region | None = None
    if country:
        country_region = lookup_region(country)
        if country_region is None or country_region.kind != "country":
            return f"unknown country {country!r}"
    if lr:
        if not lr.isdigit() or not 1 <= int(lr) <= LR_MAX:
            return f"lr must be a numeric Yandex region id (1..{LR_MAX}), got {lr!r}"
        known = region_by_id(int(lr))
        named = lookup_region(city) if city else None
        if known is not None:
            if named is not None and named.id != known.id:
                return (
                    f"lr {lr} is {known.name} in the region dictionary, but city is {city!r} (lr {named.id})"
                )
            return known
        if named is not None:
            return f"city {city!r} is lr {named.id} in the region dictionary, not {lr}"
        if not city:
            return f"lr {lr} is not in the region dictionary: put the city's name next to it"
        return Region(int(lr), city, "city", country_region.id if country_region else RUSSIA_ID, None)
    if city:
        region = lookup_region(city)
        if region is None or region.kind == "country":
            return (
                f"unknown city {city!r}: not in the region dictionary (add an lr column with its Yandex id)"
            )
        if country_region is not None and region.country != country_region.id:
            return f"city {city!r} is not in {country_region.name}"
        return region
    if country_region is not None:
        return country_region
    region = region_by_id(RUSSIA_ID)
    assert region is not None
    return region


def validate_row(
    raw: Mapping[str, str], /, *, row_number: int, extras: Mapping[str, str] | None = None
) -> NicheRow | RowError:
    """Check one input row (keys are canonical column names) and resolve its region."""
    niche = clean_text(raw.get("niche"))
    city = clean_text(raw.get("city"))
    country = clean_text(raw.get("country"))
    batch_tag = clean_text(raw.get("batch_tag")) or None
    lr = clean_text(raw.get("lr"))
    pairs = tuple((k, clean_text(v)) for k, v in raw.items() if clean_text(v))

    problems: list[str] = []
    if (problem := _niche_problem(niche)) is not None:
        problems.append(problem)
    if batch_tag is not None and (problem := batch_tag_problem(batch_tag)):
        problems.append(f"batch_tag {problem}")
    region = _resolve_region(city, country, lr)
    if isinstance(region, str):
        problems.append(region)
    if problems or isinstance(region, str):
        return RowError(row_number, "; ".join(problems), batch_tag if batch_tag else None, pairs)

    # A known city is written the dictionary's way ("спб" -> "Санкт-Петербург"), so spellings share query hashes.
    city_name = region.name if city and region.kind != "country" else (city or None)
    return NicheRow(
        row_number=row_number,
        niche=niche,
        city=city_name,
        country=country or None,
        batch_tag=batch_tag,
        region_code=region.code,
        region_name=region.name,
        region_verified=region.verified is not None,
        extras=tuple(sorted((k, clean_text(v)) for k, v in (extras or {}).items() if clean_text(v))),
    )
