"""Google Sheets input through gspread: one read of the worksheet, one batched write-back of row statuses.

The HTTP layer is injectable: pass a `requests` transport adapter as `http` and both the OAuth token exchange
and the Sheets API calls go through it (tests use a fake Google; production leaves it None).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import gspread
import requests
from google.auth.exceptions import GoogleAuthError
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2.service_account import Credentials
from gspread.utils import ValueInputOption, rowcol_to_a1
from requests.adapters import BaseAdapter

from leadgen.errors import ConfigurationError, NicheInputError
from leadgen.planning.outcomes import RowOutcome
from leadgen.planning.rows import STATUS_COLUMNS, NicheRow, RowError
from leadgen.planning.table import map_header, rows_from_grid
from leadgen.settings import Settings

SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
SHEET_URL_RE = re.compile(r"^https?://docs\.google\.com/spreadsheets/", re.IGNORECASE)
SHEET_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{25,}$")


def sheet_key(source: str, /) -> str | None:
    """The spreadsheet id in a Sheets URL or a bare id, or None when `source` is neither."""
    text = source.strip()
    if SHEET_URL_RE.match(text):
        try:
            return gspread.utils.extract_id_from_url(text)
        except gspread.exceptions.NoValidUrlKeyFound:
            return None
    return text if SHEET_KEY_RE.fullmatch(text) else None


def service_account_info(settings: Settings) -> dict[str, Any]:
    """The service-account key from GOOGLE_SERVICE_ACCOUNT_JSON or GOOGLE_SERVICE_ACCOUNT_FILE."""
    if settings.google_service_account_json is not None:
        text = settings.google_service_account_json.get_secret_value()
        origin = "GOOGLE_SERVICE_ACCOUNT_JSON"
    elif settings.google_service_account_file is not None:
        try:
            text = settings.google_service_account_file.read_text("utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read GOOGLE_SERVICE_ACCOUNT_FILE {settings.google_service_account_file}: {exc.strerror}"
            ) from exc
        origin = "GOOGLE_SERVICE_ACCOUNT_FILE"
    else:
        raise ConfigurationError(
            "reading a Google Sheet needs GOOGLE_SERVICE_ACCOUNT_FILE or GOOGLE_SERVICE_ACCOUNT_JSON"
        )
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{origin} is not valid JSON (line {exc.lineno})") from exc
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if info.get("type") != "service_account" or missing:
        raise ConfigurationError(
            f"{origin} is not a service-account key (missing {', '.join(missing) or 'type'})"
        )
    return dict(info)


@contextmanager
def google_errors(action: str) -> Iterator[None]:
    """Translate gspread / google-auth / requests failures into NicheInputError (the one boundary)."""
    try:
        yield
    except gspread.exceptions.SpreadsheetNotFound as exc:
        raise NicheInputError(
            f"{action}: spreadsheet not found (is it shared with the service account?)"
        ) from exc
    except gspread.exceptions.WorksheetNotFound as exc:
        raise NicheInputError(f"{action}: worksheet {exc} not found") from exc
    except gspread.exceptions.APIError as exc:
        raise NicheInputError(
            f"{action}: Google Sheets API error {exc.code}: {exc.error.get('message')}"
        ) from exc
    except PermissionError as exc:
        raise NicheInputError(f"{action}: no access (share the sheet with the service account)") from exc
    except GoogleAuthError as exc:
        raise NicheInputError(f"{action}: Google authentication failed: {exc}") from exc
    except requests.RequestException as exc:
        raise NicheInputError(f"{action}: cannot reach Google: {exc.__class__.__name__}") from exc


def open_client(settings: Settings, *, http: BaseAdapter | None = None) -> gspread.Client:
    """A gspread client authorised with the service account; `http` replaces the network for tests."""
    info = service_account_info(settings)
    try:
        credentials = Credentials.from_service_account_info(  # type: ignore[no-untyped-call]  # google-auth is untyped
            info, scopes=list(SCOPES)
        )
    except (ValueError, KeyError) as exc:
        raise ConfigurationError(f"the Google service-account key cannot be loaded: {exc}") from exc
    token_session = requests.Session()
    session = AuthorizedSession(  # type: ignore[no-untyped-call]  # google-auth is untyped
        credentials, auth_request=Request(token_session)
    )
    if http is not None:
        token_session.mount("https://", http)
        session.mount("https://", http)
    return gspread.Client(auth=credentials, session=session)


class NicheSheet:
    """The NICHES_INPUT worksheet read once; `write_back` sends every row status in one values:batchUpdate."""

    def __init__(self, worksheet: gspread.Worksheet, grid: list[list[str]]) -> None:
        self.worksheet = worksheet
        self.grid = grid
        self.rows: list[NicheRow | RowError] = rows_from_grid(grid)

    @classmethod
    def open(cls, settings: Settings, source: str, *, http: BaseAdapter | None = None) -> NicheSheet:
        key = sheet_key(source)
        if key is None:
            raise NicheInputError(f"not a Google Sheet id or URL: {source!r}")
        client = open_client(settings, http=http)
        with google_errors(f"opening sheet {key}"):
            worksheet = client.open_by_key(key).worksheet(settings.niches_worksheet)
            grid = [[str(c) for c in row] for row in worksheet.get_all_values()]
        return cls(worksheet, grid)

    def write_back(self, outcomes: Sequence[RowOutcome]) -> int:
        """Write status columns for these rows (adding missing header cells); returns the cells written."""
        if not outcomes:
            return 0
        header = list(self.grid[0]) if self.grid else []
        mapping = map_header(header)
        positions: dict[str, int] = {}
        new_header: list[tuple[int, str]] = []
        width = max((i + 1 for i, h in enumerate(header) if h.strip()), default=0)
        for name in STATUS_COLUMNS:
            index = mapping.index(name)
            if index is None:
                index = width
                width += 1
                new_header.append((index, name))
            positions[name] = index
        data: list[dict[str, Any]] = []
        for run in _contiguous([(name, index) for index, name in new_header]):
            first, last = rowcol_to_a1(1, run[0][1] + 1), rowcol_to_a1(1, run[-1][1] + 1)
            data.append(
                {"range": f"{first}:{last}" if first != last else first, "values": [[n for n, _ in run]]}
            )
        runs = _contiguous(sorted(positions.items(), key=lambda item: item[1]))
        for outcome in outcomes:
            values = _row_values(outcome)
            for run in runs:
                first = rowcol_to_a1(outcome.row_number, run[0][1] + 1)
                last = rowcol_to_a1(outcome.row_number, run[-1][1] + 1)
                cell_range = first if first == last else f"{first}:{last}"
                data.append({"range": cell_range, "values": [[values[name] for name, _ in run]]})
        needed = max(positions.values()) + 1
        with google_errors("writing statuses back to the sheet"):
            if needed > self.worksheet.col_count:
                self.worksheet.add_cols(needed - self.worksheet.col_count)
            self.worksheet.batch_update(data, value_input_option=ValueInputOption.raw)
        for index, name in new_header:
            while len(self.grid[0]) <= index:
                self.grid[0].append("")
            self.grid[0][index] = name
        return len(data)


def _contiguous(columns: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """Split (name, index) pairs sorted by index into runs of adjacent columns (one A1 range per run)."""
    runs: list[list[tuple[str, int]]] = []
    for item in columns:
        if runs and runs[-1][-1][1] + 1 == item[1]:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _row_values(outcome: RowOutcome) -> dict[str, str | int]:
    return {
        "status": outcome.status,
        "generated_count": outcome.generated_count,
        "db_inserted_count": outcome.db_inserted_count,
        "db_duplicate_count": outcome.db_duplicate_count,
        "db_first_scheduled_for": outcome.db_first_scheduled_for or "",
        "db_last_scheduled_for": outcome.db_last_scheduled_for or "",
        "last_error": outcome.last_error or "",
    }
