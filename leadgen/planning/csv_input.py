"""CSV input: detect the encoding (BOMs, UTF-16, UTF-8, Windows-1251 vs KOI8-R), sniff `,` `;` / tab, and return
the cell grid with the records that are malformed (wrong field count, a field that swallowed a line break)."""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from charset_normalizer import from_bytes

from leadgen.errors import NicheInputError
from leadgen.planning.rows import canonical_column

DELIMITERS = ",;\t"
# Byte order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Single-byte Cyrillic code pages a Russian niche file comes in when it is not Unicode.
CYRILLIC_8BIT = ("cp1251", "koi8_r")
ENCODING_HINT = "save the file as UTF-8 (Excel: «CSV UTF-8»)"


@dataclass(slots=True)
class CsvTable:
    """The cells of a CSV file and, per record index (0 = header), why a record is malformed."""

    grid: list[list[str]]
    problems: dict[int, str] = field(default_factory=dict)
    encoding: str = "utf-8"


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 saved without a mark: one byte of every pair is NUL (ASCII) or the script's page (0x04, Cyrillic),
    so it takes a handful of values, while UTF-8 and single-byte text never hold NUL."""
    sample = data[:4096]
    if len(sample) < 4 or 0 not in sample:
        return None
    even, odd = sample[0::2], sample[1::2]
    if 0 in odd and 0 not in even and len(set(odd)) <= 3:
        return "utf-16-le"
    if 0 in even and 0 not in odd and len(set(even)) <= 3:
        return "utf-16-be"
    return None


def _header_matches(text: str) -> bool:
    first = next((line for line in text.splitlines() if line.strip()), "")
    cells = [c.strip().strip('"') for c in first.replace(";", ",").replace("\t", ",").split(",")]
    return any(canonical_column(c) is not None and not c.isascii() for c in cells)


def _cyrillic_8bit(data: bytes) -> tuple[str, str]:
    decoded = {enc: data.decode(enc, errors="replace") for enc in CYRILLIC_8BIT}
    by_header = [enc for enc, text in decoded.items() if _header_matches(text)]
    if len(by_header) == 1:
        return decoded[by_header[0]], by_header[0]
    best = from_bytes(data, cp_isolation=list(CYRILLIC_8BIT)).best()
    if best is None:
        raise NicheInputError(
            f"cannot tell the encoding of the CSV (not UTF-8, UTF-16 or Cyrillic); {ENCODING_HINT}"
        )
    encoding = "koi8_r" if best.encoding.replace("-", "_") == "koi8_r" else "cp1251"
    return decoded[encoding], encoding


def detect_and_decode(data: bytes, /) -> tuple[str, str]:
    """(text, encoding) of CSV bytes: a BOM decides; else UTF-16 by its NUL bytes; else strict UTF-8; else
    Windows-1251 or KOI8-R, chosen by a recognised Cyrillic header, else by charset-normalizer. Refuses binary."""
    encoding = next((enc for bom, enc in BOMS if data.startswith(bom)), None)
    body = data[len(next(bom for bom, enc in BOMS if enc == encoding)) :] if encoding else data
    encoding = encoding or _utf16_without_bom(data)
    text: str | None = None
    if encoding:
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as exc:
            raise NicheInputError(
                f"the CSV is not valid {encoding.upper()}: {exc.reason}; {ENCODING_HINT}"
            ) from exc
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = _cyrillic_8bit(data)
    if "\x00" in text or sum(ch < " " and ch not in "\t\r\n" for ch in text[:4096]) > 8:
        raise NicheInputError(f"the file is not text in a known encoding (binary data?); {ENCODING_HINT}")
    return text, encoding


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


def parse_table(data: bytes, /) -> CsvTable:
    """Decode and split CSV bytes; non-blank records whose field count differs from the header's, or with a
    field that holds a line break (an unbalanced quote swallowed the next line), are listed in `problems`."""
    text, encoding = detect_and_decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    table = CsvTable([], {}, encoding)
    try:
        for index, row in enumerate(reader):
            table.grid.append(row)
            if index == 0 or not any(cell.strip() for cell in row):
                continue
            width = len(table.grid[0])
            if any("\n" in cell or "\r" in cell for cell in row):
                table.problems[index] = "a field spans several lines (an unbalanced quote?)"
            elif len(row) != width:
                table.problems[index] = f"{len(row)} fields where the header has {width}"
    except csv.Error as exc:
        raise NicheInputError(f"the CSV cannot be parsed at line {reader.line_num}: {exc}") from exc
    return table


def parse_csv(data: bytes, /) -> list[list[str]]:
    """Decode and split CSV bytes into rows of cells."""
    return parse_table(data).grid


def read_csv_table(path: Path, /) -> CsvTable:
    """The cells (and malformed records) of a CSV file on disk."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise NicheInputError(f"CSV file not found: {path}") from exc
    except OSError as exc:
        raise NicheInputError(f"cannot read CSV file {path}: {exc.strerror}") from exc
    return parse_table(data)
