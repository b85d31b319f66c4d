"""Turn a header + rows grid (from CSV or a sheet) into validated rows; shared by both readers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from leadgen.errors import NicheInputError
from leadgen.planning.rows import (
    COLUMN_ALIASES,
    SKIP_STATUSES,
    STATUS_COLUMNS,
    NicheRow,
    RowError,
    canonical_column,
    clean_text,
    validate_row,
)


@dataclass(frozen=True, slots=True)
class HeaderMap:
    """Where each known column sits in the header (0-based), plus the extra columns kept as row extras."""

    header: tuple[str, ...]
    columns: dict[str, int]
    extras: dict[str, int]

    def index(self, column: str) -> int | None:
        return self.columns.get(column)


def map_header(header: Sequence[str]) -> HeaderMap:
    """Find the input and status columns in a header row; `niche` is required."""
    columns: dict[str, int] = {}
    extras: dict[str, int] = {}
    for i, cell in enumerate(header):
        name = clean_text(cell)
        if not name:
            continue
        column = canonical_column(name)
        key = column or name.casefold()
        taken = columns if column is not None else {k.casefold(): v for k, v in extras.items()}
        if key in taken:
            first = clean_text(header[taken[key]])
            raise NicheInputError(
                f"duplicate column: {name!r} (column {i + 1}) and {first!r} (column {taken[key] + 1}) name the "
                "same field; keep one"
            )
        if column is None:
            extras[name] = i
        else:
            columns[column] = i
    if "niche" not in columns:
        known = ", ".join(aliases[0] for aliases in COLUMN_ALIASES.values())
        raise NicheInputError(
            f"the header has no niche column (expected columns: {known}); got {list(header)}"
        )
    return HeaderMap(tuple(header), columns, extras)


def rows_from_grid(
    grid: Sequence[Sequence[str]], *, first_row_number: int = 1, row_problems: Mapping[int, str] | None = None
) -> list[NicheRow | RowError]:
    """Validate every non-blank data row under the header (grid[0]); row numbers count the header as row 1.
    `row_problems` (grid index -> reason, from the CSV reader) turns those rows into row errors."""
    if not grid:
        raise NicheInputError("the input is empty: expected a header row with at least a niche column")
    mapping = map_header(grid[0])
    out: list[NicheRow | RowError] = []
    for offset, cells in enumerate(grid[1:], start=1):
        if not any(clean_text(c) for c in cells):
            continue

        def cell(i: int | None, cells: Sequence[str] = cells) -> str:
            return str(cells[i]) if i is not None and i < len(cells) else ""

        status_index = mapping.index("status")
        if clean_text(cell(status_index)).casefold() in SKIP_STATUSES:
            continue
        raw = {c: cell(i) for c, i in mapping.columns.items() if c not in STATUS_COLUMNS}
        extras = {name: cell(i) for name, i in mapping.extras.items()}
        if row_problems and offset in row_problems:
            tag = clean_text(raw.get("batch_tag")) or None
            out.append(RowError(first_row_number + offset, row_problems[offset], tag))
            continue
        out.append(validate_row(raw, row_number=first_row_number + offset, extras=extras))
    return out
