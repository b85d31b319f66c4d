"""The one boundary where httpx exceptions and Yandex Cloud error responses become leadgen.errors types."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from leadgen.errors import AuthError, QuotaExceeded, YandexAPIError, YandexUnavailable

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 300


@contextmanager
def translate_transport_errors(what: str) -> Iterator[None]:
    """Turn httpx transport failures (timeouts, refused connections, protocol errors) into YandexUnavailable."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise YandexUnavailable(f"{what}: timed out ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise YandexUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
    except httpx.InvalidURL as exc:
        raise YandexAPIError(f"{what}: invalid URL: {exc}", status=0) from exc


def status_body(response: httpx.Response) -> tuple[int | None, str, str | None]:
    """(gRPC code, message, request id) from a google.rpc.Status body; tolerant of HTML and empty bodies."""
    request_id = response.headers.get("x-request-id")
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        text = response.text.strip().replace("\n", " ")
        return None, (text[:MAX_MESSAGE_CHARS] or response.reason_phrase or "no body"), request_id
    if not isinstance(body, dict):
        return None, str(body)[:MAX_MESSAGE_CHARS], request_id
    code = body.get("code")
    message = str(body.get("message") or response.reason_phrase or "")[:MAX_MESSAGE_CHARS]
    for detail in body.get("details") or []:
        if isinstance(detail, dict) and detail.get("requestId"):
            request_id = str(detail["requestId"])
    return as_code(code), message, request_id


def as_code(value: object) -> int | None:
    """A gRPC code from a Status body: a JSON number, or a digit string from a lenient proxy."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def raise_for_response(response: httpx.Response, *, what: str, now: datetime) -> None:
    """Raise the leadgen error matching a non-2xx response; return quietly on 2xx."""
    status = response.status_code
    if status < 300:
        return
    code, message, request_id = status_body(response)
    log.debug(
        "yandex %s -> HTTP %s code=%s x-request-id=%s x-server-trace-id=%s",
        what,
        status,
        code,
        request_id,
        response.headers.get("x-server-trace-id"),
    )
    detail = f"{what}: HTTP {status}" + (f" code {code}" if code is not None else "") + f": {message}"
    if status == 429:
        raise QuotaExceeded(
            detail, retry_after=parse_retry_after(response.headers.get("retry-after"), now=now)
        )
    if status in (401, 403):
        raise AuthError(detail)
    if status >= 500 or status in (408, 499):
        raise YandexUnavailable(detail, status=status)
    raise YandexAPIError(detail, status=status, code=code, request_id=request_id)


def json_object(response: httpx.Response, *, what: str) -> dict[str, object]:
    """The JSON object of a 2xx response; a non-JSON or non-object body is YandexUnavailable (a proxy page)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise YandexUnavailable(f"{what}: response is not JSON", status=response.status_code) from exc
    if not isinstance(body, dict):
        raise YandexUnavailable(f"{what}: response is not a JSON object", status=response.status_code)
    return body
