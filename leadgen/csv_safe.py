"""The one CSV writer of the product: cells a spreadsheet would evaluate are neutralised (OWASP CSV injection)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from leadgen.outputs import atomic_output

# OWASP "CSV Injection": a cell starting with one of these is read as a formula by Excel, LibreOffice or Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any, /) -> Any:
    """`value` for a CSV cell: None -> "", text starting with a formula character gets a leading `'`.
    Numbers and booleans computed by the product are kept as they are."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], *, inputs: Iterable[Path] = ()
) -> int:
    """Write `header` and `rows` as UTF-8 CSV to `path` (temp file + rename, never over one of `inputs`);
    returns the number of data rows."""
    count = 0
    with atomic_output(path, inputs=inputs) as fh:
        writer = csv.writer(fh)
        writer.writerow([safe_cell(v) for v in header])
        for row in rows:
            writer.writerow([safe_cell(v) for v in row])
            count += 1
    return count
