"""YandexClient against respx: request shape, every error path, retries and backoff on a manual clock."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from leadgen.clock import ManualClock
from leadgen.errors import (
    AuthError,
    NightWindowViolation,
    OperationFailed,
    QuotaExceeded,
    SearchError,
    YandexAPIError,
    YandexUnavailable,
)
from leadgen.yandex import Operation, SearchRequest, YandexClient
from tests.yandex.conftest import API, DAY, OPS, make_settings

pytestmark = pytest.mark.anyio

CREATE = f"{API}/v2/web/searchAsync"
OP_ID = "sppger465oq1abcdefgh"
POLL = f"{OPS}/operations/{OP_ID}"
CREATED = {
    "done": False,
    "id": OP_ID,
    "description": "WEB search async",
    "createdAt": "2024-10-02T19:51:02Z",
    "createdBy": "bfbud0oddqp4xxxxxxxx",
    "modifiedAt": "2024-10-02T19:51:03Z",
}
XML = b'<?xml version="1.0" encoding="utf-8"?><yandexsearch version="1.0"><response/></yandexsearch>'


def done_body(raw: str | None = None) -> dict[str, object]:
    raw = base64.b64encode(XML).decode() if raw is None else raw
    return {
        **CREATED,
        "done": True,
        "response": {
            "@type": "type.googleapis.com/yandex.cloud.searchapi.v2.WebSearchResponse",
            "rawData": raw,
        },
    }


def status(code: int, message: str) -> dict[str, object]:
    return {"code": code, "message": message, "details": []}


async def make_client(clock: ManualClock, **settings: object) -> YandexClient:
    s = make_settings(yandex_cloud_iam_token="t1.static-token", **settings)
    return YandexClient(httpx.AsyncClient(), s, clock=clock, sleep=clock.async_sleep, owns_http=True)


REQUEST = SearchRequest("купить окна пвх", region="213", page=1, groups_on_page=10)


@respx.mock
async def test_create_sends_camelcase_body_with_int64_strings_and_headers(clock: ManualClock) -> None:
    route = respx.post(CREATE).mock(return_value=httpx.Response(200, json=CREATED))
    async with await make_client(clock) as client:
        op = await client.create_search(REQUEST)
    assert op == Operation(
        id=OP_ID, done=False, created_at="2024-10-02T19:51:02Z", modified_at="2024-10-02T19:51:03Z"
    )
    sent = route.calls.last.request
    body = json.loads(sent.content)
    assert body == {
        "query": {
            "searchType": "SEARCH_TYPE_RU",
            "queryText": "купить окна пвх",
            "familyMode": "FAMILY_MODE_MODERATE",
            "page": "1",
        },
        "groupSpec": {"groupMode": "GROUP_MODE_DEEP", "groupsOnPage": "10", "docsInGroup": "1"},
        "maxPassages": "2",
        "l10n": "LOCALIZATION_RU",
        "responseFormat": "FORMAT_XML",
        "region": "213",
        "folderId": "b1gtestfolder",
    }
    assert sent.headers["Authorization"] == "Bearer t1.static-token"
    assert len(sent.headers["x-client-request-id"]) == 36


@respx.mock
async def test_missing_done_means_not_done_and_done_decodes(clock: ManualClock) -> None:
    body = {k: v for k, v in CREATED.items() if k != "done"}
    respx.get(POLL).mock(side_effect=[httpx.Response(200, json=body), httpx.Response(200, json=done_body())])
    async with await make_client(clock) as client:
        first = await client.get_operation(OP_ID)
        assert not first.done and not first.finished
        second = await client.get_operation(OP_ID)
    assert second.result_bytes() == XML


@respx.mock
async def test_wait_polls_on_the_injected_clock(clock: ManualClock) -> None:
    respx.get(POLL).mock(
        side_effect=[httpx.Response(200, json=CREATED)] * 3 + [httpx.Response(200, json=done_body())]
    )
    async with await make_client(clock) as client:
        op = await client.wait(OP_ID, poll_interval=60, timeout=3600)
    assert op.done and clock.sleeps == [60, 60, 60]


@respx.mock
async def test_wait_gives_up_after_timeout(clock: ManualClock) -> None:
    respx.get(POLL).mock(return_value=httpx.Response(200, json=CREATED))
    async with await make_client(clock) as client:
        with pytest.raises(OperationFailed, match="not done within"):
            await client.wait(OP_ID, poll_interval=60, timeout=150)


async def test_night_window_violation_carries_next_allowed_time() -> None:
    clock = ManualClock(DAY)
    with respx.mock(assert_all_called=False) as router:
        route = router.post(CREATE).mock(return_value=httpx.Response(200, json=CREATED))
        async with await make_client(clock) as client:
            with pytest.raises(NightWindowViolation) as info:
                await client.create_search(REQUEST)
            assert info.value.next_allowed == datetime(2026, 11, 26, 21, 0, tzinfo=UTC)  # 00:00 MSK
            assert not route.called
            await client.create_search(REQUEST, ignore_night_window=True)
            assert route.called


async def test_night_window_crossing_midnight_in_utc() -> None:
    clock = ManualClock(datetime(2026, 11, 26, 19, 59, tzinfo=UTC))
    with respx.mock() as router:
        router.post(CREATE).mock(return_value=httpx.Response(200, json=CREATED))
        async with await make_client(
            clock, night_window="20:00-05:59", app_timezone="UTC", night_window_allow_daytime=True
        ) as client:
            with pytest.raises(NightWindowViolation) as info:
                await client.create_search(REQUEST)
            assert info.value.next_allowed == datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
            clock.advance(minutes=1)
            assert (await client.create_search(REQUEST)).id == OP_ID


@respx.mock
async def test_429_honours_retry_after_then_succeeds(clock: ManualClock) -> None:
    respx.post(CREATE).mock(
        side_effect=[
            httpx.Response(429, json=status(8, "quota"), headers={"Retry-After": "7"}),
            httpx.Response(200, json=CREATED),
        ]
    )
    async with await make_client(clock) as client:
        assert (await client.create_search(REQUEST)).id == OP_ID
    assert clock.sleeps == [7.0]


@respx.mock
async def test_429_without_retry_after_backs_off_exponentially_then_raises(clock: ManualClock) -> None:
    route = respx.post(CREATE).mock(return_value=httpx.Response(429, json=status(8, "Too many requests")))
    async with await make_client(clock, yandex_max_retries=3, yandex_backoff_seconds=1.5) as client:
        with pytest.raises(QuotaExceeded, match="HTTP 429 code 8: Too many requests") as info:
            await client.create_search(REQUEST)
    assert route.call_count == 4
    assert clock.sleeps == [1.5, 3.0, 6.0]
    assert info.value.retry_after is None and isinstance(info.value, SearchError)


@respx.mock
async def test_retry_after_as_http_date(clock: ManualClock) -> None:
    when = (clock() + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    respx.get(POLL).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": when}), httpx.Response(200, json=CREATED)]
    )
    async with await make_client(clock) as client:
        await client.get_operation(OP_ID)
    assert clock.sleeps == [30.0]


@respx.mock
async def test_5xx_on_create_is_not_retried(clock: ManualClock) -> None:
    route = respx.post(CREATE).mock(return_value=httpx.Response(503, json=status(14, "unavailable")))
    async with await make_client(clock) as client:
        with pytest.raises(YandexUnavailable) as info:
            await client.create_search(REQUEST)
    assert route.call_count == 1 and info.value.status == 503


@respx.mock
async def test_5xx_and_timeouts_on_poll_are_retried(clock: ManualClock) -> None:
    route = respx.get(POLL).mock(
        side_effect=[
            httpx.Response(500, json=status(13, "internal")),
            httpx.ReadTimeout("slow"),
            httpx.Response(502, text="<html><body>Bad Gateway</body></html>"),
            httpx.Response(200, json=done_body()),
        ]
    )
    async with await make_client(clock) as client:
        op = await client.get_operation(OP_ID)
    assert op.done and route.call_count == 4 and clock.sleeps == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("response", "error", "match"),
    [
        (httpx.Response(400, json=status(3, "query.queryText: too long")), YandexAPIError, "code 3"),
        (httpx.Response(404, json=status(5, "Operation not found")), YandexAPIError, "not found"),
        (httpx.Response(403, json=status(7, "Permission denied")), AuthError, "Permission denied"),
        (httpx.Response(401, json=status(16, "Token is invalid or has expired.")), AuthError, "expired"),
        (httpx.Response(200, text="<html>captive portal</html>"), YandexUnavailable, "not JSON"),
        (httpx.Response(200, json={"done": True}), YandexUnavailable, "no id"),
    ],
)
async def test_error_responses_map_to_typed_errors(
    clock: ManualClock, response: httpx.Response, error: type[Exception], match: str
) -> None:
    with respx.mock() as router:
        router.get(POLL).mock(return_value=response)
        async with await make_client(clock, yandex_max_retries=0) as client:
            with pytest.raises(error, match=match):
                await client.get_operation(OP_ID)


@respx.mock
async def test_api_error_carries_status_code_and_request_id(clock: ManualClock) -> None:
    body = {
        "code": 3,
        "message": "groupSpec.groupsOnPage: must be in [1, 100]",
        "details": [{"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "e38e71c3-1"}],
    }
    respx.post(CREATE).mock(return_value=httpx.Response(400, json=body))
    async with await make_client(clock) as client:
        with pytest.raises(YandexAPIError) as info:
            await client.create_search(REQUEST)
    assert (info.value.status, info.value.code, info.value.request_id) == (400, 3, "e38e71c3-1")
    assert "groupsOnPage" in str(info.value)


@respx.mock
async def test_connect_error_is_unavailable(clock: ManualClock) -> None:
    respx.post(CREATE).mock(side_effect=httpx.ConnectError("refused"))
    async with await make_client(clock) as client:
        with pytest.raises(YandexUnavailable, match="ConnectError"):
            await client.create_search(REQUEST)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({**CREATED, "done": True, "error": {"code": 3, "message": "bad query"}}, "code 3: bad query"),
        ({**CREATED, "done": False, "error": {"code": 13, "message": "rolling back"}}, "code 13"),
        ({**CREATED, "done": True}, "neither response nor error"),
        ({**CREATED, "done": True, "response": {"@type": "x"}}, "without rawData"),
        (done_body("%%%not base64%%%"), "not valid base64"),
    ],
)
def test_unusable_operations_raise_operation_failed(body: dict[str, object], match: str) -> None:
    op = Operation.from_json(body)
    assert op.finished
    with pytest.raises(OperationFailed, match=match) as info:
        op.result_bytes()
    assert info.value.operation_id == OP_ID


def test_raw_data_in_urlsafe_or_unpadded_base64_decodes() -> None:
    xml = "<?xml version='1.0'?><yandexsearch><q>ё?</q></yandexsearch>".encode()
    urlsafe = base64.urlsafe_b64encode(xml).decode().rstrip("=")
    assert Operation.from_json(done_body(urlsafe)).result_bytes() == xml


@respx.mock
async def test_api_key_header(clock: ManualClock) -> None:
    route = respx.post(CREATE).mock(return_value=httpx.Response(200, json=CREATED))
    s = make_settings(yandex_api_key="AQVNsecret")
    async with YandexClient(
        httpx.AsyncClient(), s, clock=clock, sleep=clock.async_sleep, owns_http=True
    ) as c:
        await c.create_search(REQUEST)
    assert route.calls.last.request.headers["Authorization"] == "Api-Key AQVNsecret"


@given(
    payload=st.binary(max_size=300),
    urlsafe=st.booleans(),
    strip_padding=st.booleans(),
    wrap=st.booleans(),
)
def test_raw_data_roundtrip(payload: bytes, urlsafe: bool, strip_padding: bool, wrap: bool) -> None:
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(payload).decode()
    if strip_padding:
        text = text.rstrip("=")
    if wrap:
        text = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    assert Operation.from_json(done_body(text)).result_bytes() == payload


@respx.mock
async def test_long_retry_after_is_left_to_the_caller(clock: ManualClock) -> None:
    route = respx.post(CREATE).mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
    async with await make_client(clock) as client:
        with pytest.raises(QuotaExceeded) as info:
            await client.create_search(REQUEST)
    assert route.call_count == 1 and info.value.retry_after == 3600 and clock.sleeps == []
