"""Where NICHES_INPUT comes from: `read_niches` / `open_niches` pick the CSV or Google Sheets reader."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from requests.adapters import BaseAdapter

from leadgen.csv_safe import write_csv
from leadgen.errors import ConfigurationError, NicheInputError
from leadgen.planning.csv_input import read_csv_table
from leadgen.planning.outcomes import RowOutcome
from leadgen.planning.rows import STATUS_COLUMNS, NicheRow, RowError
from leadgen.planning.sheets import NicheSheet, sheet_key
from leadgen.planning.table import rows_from_grid
from leadgen.settings import Settings

CSV_SUFFIXES = (".csv", ".tsv", ".txt")


@dataclass(slots=True)
class NicheCsv:
    """A CSV input; it is never rewritten: `write_back` writes statuses to a separate CSV when asked."""

    path: Path
    rows: list[NicheRow | RowError]

    def write_back(self, outcomes: Sequence[RowOutcome], *, out: Path | None = None) -> int:
        """Write `row_number` + status columns for these rows to `out` (no-op without it); returns rows written."""
        if out is None or not outcomes:
            return 0
        rows = (
            [o.row_number, o.batch_tag, o.status, o.generated_count, o.db_inserted_count, o.db_duplicate_count,
             o.db_first_scheduled_for, o.db_last_scheduled_for, o.last_error]
            for o in outcomes
        )  # fmt: skip
        write_csv(out, ["row_number", "batch_tag", *STATUS_COLUMNS], rows, inputs=[self.path])
        return len(outcomes)


NicheInput = NicheCsv | NicheSheet


def resolve_source(settings: Settings, source: str | None) -> str:
    """`source`, else NICHES_INPUT; a ConfigurationError when neither is set."""
    chosen = (source or settings.niches_input or "").strip()
    if not chosen:
        raise ConfigurationError("no niches input: set NICHES_INPUT (sheet id/URL or CSV path) or pass one")
    return chosen


def is_sheet(source: str) -> bool:
    """Does `source` name a Google Sheet (URL or id) rather than a CSV path?"""
    if Path(source).suffix.lower() in CSV_SUFFIXES or Path(source).exists():
        return False
    return sheet_key(source) is not None


def open_niches(
    settings: Settings, source: str | None = None, *, http: BaseAdapter | None = None
) -> NicheInput:
    """Open and read the niches input once (CSV file or Google Sheet); rows are validated."""
    chosen = resolve_source(settings, source)
    if is_sheet(chosen):
        return NicheSheet.open(settings, chosen, http=http)
    path = Path(chosen)
    if not path.suffix and not path.exists():
        raise NicheInputError(f"{chosen!r} is neither a CSV file nor a Google Sheet id/URL")
    table = read_csv_table(path)
    return NicheCsv(path, rows_from_grid(table.grid, row_problems=table.problems))


def read_niches(settings: Settings, source: str | None) -> list[NicheRow | RowError]:
    """Validated rows of the niches input (`source`, else NICHES_INPUT): valid rows and row errors, in order."""
    return open_niches(settings, source).rows
