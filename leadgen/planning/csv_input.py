"""CSV input: decode (UTF-8 with or without BOM, else cp1251), sniff `,` / `;` / tab, return the cell grid."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from leadgen.errors import NicheInputError

DELIMITERS = ",;\t"
ENCODINGS = ("utf-8-sig", "cp1251")


def decode_csv(data: bytes, /) -> str:
    """Text of a CSV file: UTF-8 (a BOM is dropped) when it decodes, else Windows-1251 (Excel's Russian default)."""
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise NicheInputError(
        "the CSV is neither UTF-8 nor Windows-1251"
    )  # pragma: no cover - cp1251 maps ~all bytes


def sniff_delimiter(text: str, /) -> str:
    """The delimiter of the header line: the most frequent of `,` `;` and tab outside quotes (`,` on a tie)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts: dict[str, int] = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in first:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def parse_csv(data: bytes, /) -> list[list[str]]:
    """Decode and split CSV bytes into rows of cells."""
    text = decode_csv(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        return [list(row) for row in reader]
    except csv.Error as exc:
        raise NicheInputError(f"the CSV cannot be parsed: {exc}") from exc


def read_csv_grid(path: Path, /) -> list[list[str]]:
    """The cell grid of a CSV file on disk."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise NicheInputError(f"CSV file not found: {path}") from exc
    except OSError as exc:
        raise NicheInputError(f"cannot read CSV file {path}: {exc.strerror}") from exc
    return parse_csv(data)
