"""A fake Google (OAuth token endpoint + Sheets API v4) behind a `requests` transport adapter.

gspread and google-auth run unchanged on top of it: the service-account JWT is verified with the key's public
half, values are served and stored per worksheet, and grid limits are enforced as the real API does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from requests.adapters import BaseAdapter

TOKEN_URI = "https://oauth2.googleapis.com/token"
SHEETS = "https://sheets.googleapis.com/v4/spreadsheets/"
CELL_RE = re.compile(r"^(?:'((?:[^']|'')+)'|([^!]+))(?:!([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?)?$")


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def make_service_account() -> tuple[dict[str, str], Any]:
    """A service-account key dict (as Google issues) and its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "leadgen-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "planner@leadgen-test.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": TOKEN_URI,
    }
    return info, key.public_key()


@dataclass
class Worksheet:
    title: str
    values: list[list[str]]
    sheet_id: int = 0
    rows: int = 1000
    cols: int = 26


@dataclass
class FakeGoogle(BaseAdapter):
    """Register spreadsheets in `books` (id -> worksheets); inspect `calls` afterwards."""

    public_key: Any
    books: dict[str, list[Worksheet]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__init__()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        method = request.method or "GET"
        self.calls.append((method, url))
        if url.startswith(TOKEN_URI):
            return self._token(request)
        if not url.startswith(SHEETS):
            return _response(request, 404, {"error": {"code": 404, "message": "unknown host"}})
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return _error(request, 401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
        path = unquote(urlsplit(url).path)[len("/v4/spreadsheets/") :]
        book_id, _, rest = path.partition("/")
        book_id, _, action = book_id.partition(":")
        book = self.books.get(book_id)
        if book is None:
            return _error(request, 404, "Requested entity was not found.", "NOT_FOUND")
        body = json.loads(request.body) if request.body else {}
        self.bodies.append(body)
        if method == "GET" and not rest and not action:
            return _response(request, 200, self._metadata(book_id, book))
        if method == "GET" and rest.startswith("values/"):
            return self._values_get(request, book, rest[len("values/") :])
        if method == "POST" and rest == "values:batchUpdate":
            return self._values_batch_update(request, book, body)
        if method == "POST" and action == "batchUpdate":
            return self._batch_update(request, book, body)
        return _error(request, 400, f"unsupported call {method} {path}", "INVALID_ARGUMENT")

    def close(self) -> None:
        pass

    # --- endpoints ----------------------------------------------------------------------------------------

    def _token(self, request: requests.PreparedRequest) -> requests.Response:
        raw = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _response(request, 400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(form["assertion"], self.public_key, algorithms=["RS256"], audience=TOKEN_URI)
        except jwt.PyJWTError as exc:
            return _response(request, 400, {"error": "invalid_grant", "error_description": str(exc)})
        if "spreadsheets" not in claims.get("scope", ""):
            return _response(request, 400, {"error": "invalid_scope"})
        token = f"ya29.fake-{len(self.tokens) + 1}"
        self.tokens.add(token)
        return _response(request, 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _metadata(self, book_id: str, book: list[Worksheet]) -> dict[str, Any]:
        return {
            "spreadsheetId": book_id,
            "properties": {"title": "Niches", "locale": "ru_RU", "timeZone": "Europe/Moscow"},
            "sheets": [
                {
                    "properties": {
                        "sheetId": ws.sheet_id,
                        "title": ws.title,
                        "index": i,
                        "sheetType": "GRID",
                        "gridProperties": {"rowCount": ws.rows, "columnCount": ws.cols},
                    }
                }
                for i, ws in enumerate(book)
            ],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book_id}/edit",
        }

    def _sheet(self, book: list[Worksheet], title: str) -> Worksheet | None:
        return next((ws for ws in book if ws.title == title), None)

    def _values_get(
        self, request: requests.PreparedRequest, book: list[Worksheet], rng: str
    ) -> requests.Response:
        m = CELL_RE.match(rng)
        title = (m.group(1) or "").replace("''", "'") or (m.group(2) or "") if m else ""
        ws = self._sheet(book, title)
        if ws is None:
            return _error(request, 400, f"Unable to parse range: {rng}", "INVALID_ARGUMENT")
        rows = [list(r) for r in ws.values]
        for r in rows:
            while r and r[-1] == "":
                r.pop()
        while rows and not rows[-1]:
            rows.pop()
        last = _col_letters(ws.cols)
        body: dict[str, Any] = {"range": f"'{ws.title}'!A1:{last}{ws.rows}", "majorDimension": "ROWS"}
        if rows:
            body["values"] = rows
        return _response(request, 200, body)

    def _values_batch_update(
        self, request: requests.PreparedRequest, book: list[Worksheet], body: dict[str, Any]
    ) -> requests.Response:
        if body.get("valueInputOption") not in ("RAW", "USER_ENTERED"):
            return _error(request, 400, "Invalid valueInputOption", "INVALID_ARGUMENT")
        updates: list[tuple[Worksheet, int, int, Any]] = []
        for item in body.get("data", []):
            m = CELL_RE.match(item["range"])
            if not m or not m.group(3):
                return _error(request, 400, f"Unable to parse range: {item['range']}", "INVALID_ARGUMENT")
            ws = self._sheet(book, (m.group(1) or "").replace("''", "'") or m.group(2))
            if ws is None:
                return _error(request, 400, f"Unable to parse range: {item['range']}", "INVALID_ARGUMENT")
            col, row = col_index(m.group(3)), int(m.group(4))
            end_col, end_row = (col_index(m.group(5)), int(m.group(6))) if m.group(5) else (col, row)
            if end_col > ws.cols or end_row > ws.rows:
                message = f"Range ({item['range']}) exceeds grid limits. Max rows: {ws.rows}, max columns: {ws.cols}"
                return _error(request, 400, message, "INVALID_ARGUMENT")
            values = item["values"]
            if len(values) > end_row - row + 1 or any(len(line) > end_col - col + 1 for line in values):
                message = f"Requested writing within range [{item['range']}], but tried writing beyond it"
                return _error(request, 400, message, "INVALID_ARGUMENT")
            for r, line in enumerate(values):
                for c, value in enumerate(line):
                    updates.append((ws, row + r, col + c, value))
        for ws, row, col, value in updates:  # all or nothing, like the real API
            while len(ws.values) < row:
                ws.values.append([])
            line = ws.values[row - 1]
            while len(line) < col:
                line.append("")
            line[col - 1] = str(value)
        return _response(request, 200, {"totalUpdatedCells": len(updates), "responses": []})

    def _batch_update(
        self, request: requests.PreparedRequest, book: list[Worksheet], body: dict[str, Any]
    ) -> requests.Response:
        for req in body.get("requests", []):
            props = req.get("updateSheetProperties", {}).get("properties")
            if props is None:
                return _error(request, 400, "unsupported request", "INVALID_ARGUMENT")
            ws = next((w for w in book if w.sheet_id == props["sheetId"]), None)
            if ws is None:
                return _error(request, 400, "No grid with id", "INVALID_ARGUMENT")
            grid = props.get("gridProperties", {})
            ws.cols = grid.get("columnCount", ws.cols)
            ws.rows = grid.get("rowCount", ws.rows)
        return _response(request, 200, {"replies": [{}]})


def _col_letters(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def _error(request: requests.PreparedRequest, code: int, message: str, status: str) -> requests.Response:
    return _response(request, code, {"error": {"code": code, "message": message, "status": status}})


def _response(request: requests.PreparedRequest, code: int, body: dict[str, Any]) -> requests.Response:
    response = requests.Response()
    response.status_code = code
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json; charset=UTF-8"
    response.encoding = "utf-8"
    response.url = request.url or ""
    response.request = request
    return response
