"""The error boundary: Status bodies, Retry-After forms, HTTP status → leadgen error."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from leadgen.errors import AuthError, QuotaExceeded, YandexAPIError, YandexUnavailable
from leadgen.yandex.errormap import parse_retry_after, raise_for_response, status_body

NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("Wed, 25 Nov 2026 22:00:30 GMT", 30.0),
        ("Wed, 25 Nov 2026 21:59:00 GMT", 0.0),
        ("soon", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            httpx.Response(401, json={"code": 16, "message": "Token is invalid or has expired.",
                                      "details": [{"@type": "type.googleapis.com/google.rpc.RequestInfo",
                                                   "requestId": "e38e71c3-aaaa"}]}),
            (16, "Token is invalid or has expired.", "e38e71c3-aaaa"),
        ),
        (httpx.Response(502, text="<html><body><h1>502 Bad Gateway</h1></body></html>"),
         (None, "<html><body><h1>502 Bad Gateway</h1></body></html>", None)),
        (httpx.Response(500, text=""), (None, "Internal Server Error", None)),
        (httpx.Response(400, json=["odd"]), (None, "['odd']", None)),
        (httpx.Response(429, json={"code": "8", "message": "quota"}, headers={"x-request-id": "r1"}), (8, "quota", "r1")),
    ],
)  # fmt: skip
def test_status_body(response: httpx.Response, expected: tuple[object, ...]) -> None:
    assert status_body(response) == expected


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, QuotaExceeded),
        (401, AuthError),
        (403, AuthError),
        (400, YandexAPIError),
        (404, YandexAPIError),
        (409, YandexAPIError),
        (408, YandexUnavailable),
        (499, YandexUnavailable),
        (500, YandexUnavailable),
        (503, YandexUnavailable),
        (504, YandexUnavailable),
    ],
)
def test_status_mapping(status: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        raise_for_response(httpx.Response(status, json={"code": 1, "message": "m"}), what="x", now=NOW)


def test_2xx_passes() -> None:
    raise_for_response(httpx.Response(200, json={}), what="x", now=NOW)
