"""Async client of Search API v2 deferred mode: create an operation, poll it, wait for it, decode its XML.

async with YandexClient.from_settings(settings) as client:
    op = await client.create_search(SearchRequest.from_settings(settings, "окна пвх", region="213"))
    done = await client.wait(op.id, poll_interval=60, timeout=3 * 3600)
    xml = done.result_bytes()
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from leadgen.clock import Clock, utc_now
from leadgen.errors import OperationFailed, QuotaExceeded, YandexUnavailable
from leadgen.settings import Settings
from leadgen.windows import DailyWindow
from leadgen.yandex.auth import Credentials, credentials_from_settings
from leadgen.yandex.errormap import json_object, raise_for_response, translate_transport_errors
from leadgen.yandex.limiter import QuotaLimiter
from leadgen.yandex.night import ensure_night, night_window
from leadgen.yandex.types import Operation, SearchRequest

log = logging.getLogger(__name__)

AsyncSleep = Callable[[float], Awaitable[None]]
SEARCH_ASYNC_PATH = "/v2/web/searchAsync"
OPERATIONS_PATH = "/operations/"
MAX_BACKOFF_SECONDS = 60.0


class YandexClient:
    """Search API v2 deferred client; every call passes the quota limiter and the one error boundary.

    `http` is any `httpx.AsyncClient` (tests pass a respx-mocked or emulator-bound one); `clock` and `sleep`
    drive the night window, the limiter and the backoff. Creates retry only after 429 (a retried 5xx could
    create a second billed operation); polls retry after 429, 5xx and timeouts. 401 refreshes the IAM token once.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        *,
        credentials: Credentials | None = None,
        clock: Clock = utc_now,
        sleep: AsyncSleep = asyncio.sleep,
        limiter: QuotaLimiter | None = None,
        window: DailyWindow | None = None,
        owns_http: bool = False,
    ) -> None:
        self._http = http
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._credentials = credentials or credentials_from_settings(settings, http=http, clock=clock)
        self.limiter = limiter or QuotaLimiter.from_settings(settings, clock=clock, sleep=sleep)
        self.window = window or night_window(settings)
        self._search_url = settings.yandex_search_api_url.rstrip("/") + SEARCH_ASYNC_PATH
        self._operations_url = settings.yandex_operation_api_url.rstrip("/") + OPERATIONS_PATH
        self._owns_http = owns_http

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        sleep: AsyncSleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> YandexClient:
        """A client owning its httpx.AsyncClient (timeouts from settings); close it with `async with`."""
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.yandex_timeout_seconds),
            transport=transport,
            trust_env=False,
            headers={"User-Agent": "leadgen/0.1"},
        )
        return cls(http, settings, clock=clock, sleep=sleep, owns_http=True)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> YandexClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- public calls -------------------------------------------------------------------------------------

    async def create_search(
        self, request: SearchRequest, /, *, ignore_night_window: bool = False
    ) -> Operation:
        """POST searchAsync; NightWindowViolation outside NIGHT_WINDOW unless `ignore_night_window`."""
        if ignore_night_window:
            log.warning("creating a search operation with the night window check DISABLED (%s)", self.window)
        else:
            ensure_night(self.window, self._clock())
        body = request.to_body(folder_id=self._settings.yandex_folder_id)
        result = await self._call("POST", self._search_url, body, what="searchAsync", idempotent=False)
        operation = Operation.from_json(result)
        log.info("created search operation %s for %r", operation.id, request.query_text)
        return operation

    async def get_operation(self, operation_id: str, /) -> Operation:
        """GET /operations/{id}; the Operation as is (check `.finished`, then `.result_bytes()`)."""
        url = self._operations_url + quote(operation_id, safe="")
        result = await self._call("GET", url, None, what=f"operation {operation_id}", idempotent=True)
        return Operation.from_json(result)

    async def wait(self, operation_id: str, /, *, poll_interval: float, timeout: float) -> Operation:
        """Poll until the operation finishes; OperationFailed when it fails or is not done within `timeout`."""
        started = self._clock()
        while True:
            operation = await self.get_operation(operation_id)
            if operation.failed:
                operation.result_bytes()  # raises OperationFailed with the operation's error
            if operation.done:
                return operation
            if (self._clock() - started).total_seconds() + poll_interval > timeout:
                raise OperationFailed(
                    f"operation {operation_id} not done within {timeout:g} s", operation_id=operation_id
                )
            await self._sleep(poll_interval)

    # --- the boundary -------------------------------------------------------------------------------------

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return min(float(self._settings.yandex_backoff_seconds * 2**attempt), MAX_BACKOFF_SECONDS)

    async def wait_for_capacity(self) -> None:
        """Wait until the limiter would admit a request now (callers do this before locking a row)."""
        waiter = getattr(self.limiter, "wait_for_capacity", None)
        if waiter is not None:
            await waiter()

    async def _call(
        self, method: str, url: str, body: dict[str, Any] | None, *, what: str, idempotent: bool
    ) -> dict[str, Any]:
        """One logical call: limiter, auth, send, translate, retry (429 always; 5xx/timeouts if idempotent)."""
        refreshed = False
        attempt = 0
        while True:
            try:
                response, auth_headers = await self._send_once(method, url, body, what=what)
                if response.status_code == 401 and not refreshed:
                    if self._credentials.invalidate(auth_headers):
                        refreshed = True
                        log.info("%s: HTTP 401, refreshing the IAM token once", what)
                        continue
                raise_for_response(response, what=what, now=self._clock())
                return json_object(response, what=what)
            except QuotaExceeded as exc:
                if attempt >= self._settings.yandex_max_retries:
                    raise
                if exc.retry_after is not None and exc.retry_after > MAX_BACKOFF_SECONDS:
                    raise  # a long Retry-After is the caller's to schedule, not a wait inside one call
                delay = self._backoff(attempt, exc.retry_after)
                log.warning("%s: quota exceeded, retrying in %.1f s", what, delay)
            except YandexUnavailable as exc:
                if not idempotent or attempt >= self._settings.yandex_max_retries:
                    raise
                delay = self._backoff(attempt, None)
                log.warning("%s: %s; retrying in %.1f s", what, exc, delay)
            attempt += 1
            await self._sleep(delay)

    async def _send_once(
        self, method: str, url: str, body: dict[str, Any] | None, *, what: str
    ) -> tuple[httpx.Response, dict[str, str]]:
        auth_headers = await self._credentials.headers()  # an IAM exchange must not eat into the quota timing
        await self.limiter.acquire()
        headers = {**auth_headers, "x-client-request-id": str(uuid.uuid4())}
        with translate_transport_errors(what):
            response = await self._http.request(method, url, json=body, headers=headers)
        log.debug(
            "yandex %s %s -> %s x-request-id=%s x-server-trace-id=%s",
            method,
            what,
            response.status_code,
            response.headers.get("x-request-id"),
            response.headers.get("x-server-trace-id"),
        )
        return response, auth_headers
