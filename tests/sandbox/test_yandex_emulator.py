"""The loopback Yandex emulator through the real client: create → poll → decode, auth, validation, faults."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import defusedxml.ElementTree as SafeET
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from leadgen.clock import ManualClock
from leadgen.data import MINUS_DOMAINS
from leadgen.errors import AuthError, OperationFailed, QuotaExceeded, YandexAPIError, YandexUnavailable
from leadgen.settings import Settings
from leadgen.yandex import SearchRequest, YandexClient
from leadgen_sandbox.serp_xml import SerpSpec, company_hosts, render_serp_xml
from leadgen_sandbox.yandex_emulator import EmulatorConfig, Faults, YandexEmulator

pytestmark = pytest.mark.anyio

QUERY = "стоматология детская контакты"


def settings_for(emu: YandexEmulator, *, auth: str = "sa_key", **extra: object) -> Settings:
    return Settings(_env_file=None, **emu.settings_overrides(auth=auth), **extra)  # type: ignore[call-arg,arg-type]


def client_for(
    emu: YandexEmulator, clock: ManualClock, *, auth: str = "sa_key", **extra: object
) -> YandexClient:
    return YandexClient.from_settings(
        settings_for(emu, auth=auth, **extra), clock=clock, sleep=clock.async_sleep
    )


def parse(xml: bytes) -> object:
    return SafeET.fromstring(xml)


async def test_create_poll_decode_end_to_end(emulator: YandexEmulator, clock: ManualClock) -> None:
    async with client_for(emulator, clock) as client:
        created = await client.create_search(SearchRequest(QUERY, region="213", groups_on_page=20))
        assert created.id.startswith("spp") and len(created.id) == 20 and not created.done
        assert not (await client.get_operation(created.id)).finished
        clock.advance(299)
        assert not (await client.get_operation(created.id)).finished
        clock.advance(1)
        xml = (await client.get_operation(created.id)).result_bytes()
    root = parse(xml)
    assert root.tag == "yandexsearch" and root.findtext("request/query") == QUERY  # type: ignore[attr-defined]
    docs = list(root.iter("doc"))  # type: ignore[attr-defined]
    assert len(list(root.iter("group"))) == 20  # type: ignore[attr-defined]
    hosts = {d.findtext("domain").removeprefix("www.") for d in docs}
    directories = {
        h for h in hosts if h in MINUS_DOMAINS or h.endswith(".flamp.ru") or h.endswith("yandex.ru")
    }
    assert directories and hosts - directories  # a mix of directories and company sites
    assert any(d.find("title") is not None and d.find("title").find("hlword") is not None for d in docs)
    kinds = [r.kind for r in emulator.requests]
    assert kinds == ["iam", "create", "poll", "poll", "poll"]
    assert all(r.client_request_id for r in emulator.requests if r.kind != "iam")
    assert emulator.requests[1].body["query"]["page"] == "0"  # type: ignore[index]


def test_xml_is_deterministic_and_derived_from_the_query() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    a = render_serp_xml(SerpSpec("окна пвх", region="213"), now=now)
    assert a == render_serp_xml(SerpSpec("окна пвх", region="213"), now=now)
    assert a != render_serp_xml(SerpSpec("натяжные потолки", region="213"), now=now)
    hosts = company_hosts("окна пвх", region="213", count=10)
    assert len(set(hosts)) == 10 and any("okna" in h or "pvkh" in h or "xn--" in h for h in hosts)


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        (SerpSpec("zzznothing here"), "15"),
        (SerpSpec("окна", page=25, groups_on_page=10, max_results=250), "18"),
    ],
)
def test_xml_error_documents(spec: SerpSpec, code: str) -> None:
    root = parse(render_serp_xml(spec, now=datetime(2026, 11, 25, tzinfo=UTC)))
    assert root.find("response/error").get("code") == code  # type: ignore[attr-defined]
    assert root.find("response/results") is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("auth", ["api_key", "iam_token"])
async def test_other_credentials(emulator: YandexEmulator, clock: ManualClock, auth: str) -> None:
    async with client_for(emulator, clock, auth=auth) as client:
        await client.create_search(SearchRequest(QUERY))
    assert emulator.recorded("create")[0].auth_scheme == ("Api-Key" if auth == "api_key" else "Bearer")
    assert not emulator.recorded("iam")


async def test_expired_static_token_is_an_auth_error(emulator: YandexEmulator, clock: ManualClock) -> None:
    async with client_for(emulator, clock, auth="iam_token") as client:
        op = await client.create_search(SearchRequest(QUERY))
        clock.advance(hours=12)
        with pytest.raises(AuthError, match="401"):
            await client.get_operation(op.id)


async def test_sa_key_token_is_refreshed_before_expiry(emulator: YandexEmulator, clock: ManualClock) -> None:
    async with client_for(emulator, clock) as client:
        op = await client.create_search(SearchRequest(QUERY))
        clock.advance(hours=11, minutes=59)
        await client.get_operation(op.id)
        clock.advance(seconds=30)
        await client.get_operation(op.id)
    assert len(emulator.recorded("iam")) == 2
    assert all(r.status == 200 for r in emulator.requests)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "query: field is required"),
        ({"query": {"searchType": "SEARCH_TYPE_RU"}}, "queryText"),
        ({"query": {"searchType": "SEARCH_TYPE_XX", "queryText": "a"}}, "searchType"),
        ({"query": {"searchType": "SEARCH_TYPE_RU", "queryText": "a" * 401}}, "400 characters"),
        ({"query": {"searchType": "SEARCH_TYPE_RU", "queryText": "a", "page": "-1"}}, "query.page"),
        ({"query": {"searchType": "SEARCH_TYPE_RU", "queryText": "a"}, "groupSpec": {"groupsOnPage": "101"}}, "groupsOnPage"),
        ({"query": {"searchType": "SEARCH_TYPE_RU", "queryText": "a"}, "groupSpec": {"docsInGroup": 4}}, "docsInGroup"),
        ({"query": {"searchType": "SEARCH_TYPE_RU", "queryText": "a"}, "maxPassages": "0"}, "maxPassages"),
    ],
)  # fmt: skip
def test_emulator_validates_bodies(emulator: YandexEmulator, body: dict[str, object], message: str) -> None:
    headers = {"Authorization": f"Api-Key {sorted(emulator.config.api_keys)[0]}"}
    response = httpx.post(f"{emulator.url}/v2/web/searchAsync", json=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == 3 and message in response.json()["message"]
    assert response.headers["x-request-id"] and response.headers["x-server-trace-id"]


def test_emulator_accepts_snake_case_and_numbers(emulator: YandexEmulator) -> None:
    body = {
        "query": {"search_type": "SEARCH_TYPE_RU", "query_text": "окна", "page": 1},
        "group_spec": {"groups_on_page": 5, "docs_in_group": 2},
        "l10N": "LOCALIZATION_RU",
        "folder_id": "b1g",
    }
    headers = {"Authorization": f"Api-Key {sorted(emulator.config.api_keys)[0]}"}
    assert httpx.post(f"{emulator.url}/v2/web/searchAsync", json=body, headers=headers).status_code == 200
    assert httpx.post(f"{emulator.url}/v2/web/searchAsync", json=body).status_code == 401


def foreign_jwt(
    emu: YandexEmulator, *, alg: str = "PS256", kid: str | None = None, lifetime: int = 360
) -> str:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    now = int(emu.config.clock().timestamp())
    claims = {"iss": emu.service_account_id, "aud": "https://iam.api.cloud.yandex.net/iam/v1/tokens",
              "iat": now, "exp": now + lifetime}  # fmt: skip
    return jwt.encode(claims, pem, algorithm=alg, headers={"kid": kid or emu.key_id})


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [({}, 401), ({"alg": "RS256"}, 400), ({"kid": "ajeunknown"}, 401)],
    ids=["bad-signature", "wrong-alg", "unknown-kid"],
)
def test_iam_endpoint_rejects_bad_jwts(emulator: YandexEmulator, kwargs: dict[str, str], status: int) -> None:
    response = httpx.post(f"{emulator.url}/iam/v1/tokens", json={"jwt": foreign_jwt(emulator, **kwargs)})
    assert response.status_code == status


async def test_unknown_operation_is_404(emulator: YandexEmulator, clock: ManualClock) -> None:
    async with client_for(emulator, clock) as client:
        with pytest.raises(YandexAPIError) as info:
            await client.get_operation("sppunknown0000000000")
    assert info.value.status == 404 and info.value.code == 5


async def test_emulator_enforces_rps_like_the_service(emulator: YandexEmulator) -> None:
    headers = {"Authorization": f"Api-Key {sorted(emulator.config.api_keys)[0]}"}
    body = {"query": {"searchType": "SEARCH_TYPE_RU", "queryText": "окна"}}
    async with httpx.AsyncClient() as http:
        codes = [
            (await http.post(f"{emulator.url}/v2/web/searchAsync", json=body, headers=headers)).status_code
            for _ in range(11)
        ]
    assert codes == [200] * 10 + [429]
    assert emulator.requests[-1].status == 429


def faulty(clock: ManualClock, **faults: float) -> YandexEmulator:
    return YandexEmulator(EmulatorConfig(clock=clock, time_to_done=0, faults=Faults(**faults)))


async def test_fault_429_exhausts_retries(clock: ManualClock) -> None:
    with faulty(clock, rate_429=1.0) as emu:
        async with client_for(emu, clock, yandex_max_retries=2) as client:
            with pytest.raises(QuotaExceeded):
                await client.create_search(SearchRequest(QUERY))
        assert [r.status for r in emu.recorded("create")] == [429, 429, 429]
        assert clock.sleeps[-2:] == [1.0, 2.0]


async def test_fault_500_on_poll_retried_then_raised(clock: ManualClock) -> None:
    with faulty(clock, rate_500=1.0) as emu:
        async with client_for(emu, clock, yandex_max_retries=1) as client:
            with pytest.raises(YandexUnavailable):
                await client.get_operation("sppx")
        assert [r.status for r in emu.recorded("poll")] == [500, 500]


@pytest.mark.parametrize(
    ("fault", "match"),
    [("rate_malformed_base64", "base64"), ("rate_operation_error", "code 13")],
)
async def test_fault_unusable_results(clock: ManualClock, fault: str, match: str) -> None:
    with faulty(clock, **{fault: 1.0}) as emu:
        async with client_for(emu, clock) as client:
            op = await client.create_search(SearchRequest(QUERY))
            with pytest.raises(OperationFailed, match=match):
                (await client.wait(op.id, poll_interval=60, timeout=600)).result_bytes()


async def test_fault_malformed_xml(clock: ManualClock) -> None:
    with faulty(clock, rate_malformed_xml=1.0) as emu:
        async with client_for(emu, clock) as client:
            op = await client.create_search(SearchRequest(QUERY))
            xml = (await client.wait(op.id, poll_interval=60, timeout=600)).result_bytes()
    with pytest.raises(SafeET.ParseError):
        parse(xml)


async def test_fault_never_done(clock: ManualClock) -> None:
    with faulty(clock, rate_never_done=1.0) as emu:
        async with client_for(emu, clock) as client:
            op = await client.create_search(SearchRequest(QUERY))
            clock.advance(hours=13)
            assert not (await client.get_operation(op.id)).finished


async def test_fault_401_refreshes_once_then_fails(clock: ManualClock) -> None:
    with faulty(clock, rate_401=1.0) as emu:
        async with client_for(emu, clock) as client:
            with pytest.raises(AuthError):
                await client.create_search(SearchRequest(QUERY))
        assert len(emu.recorded("iam")) == 2 and len(emu.recorded("create")) == 2


async def test_fault_slow_response_times_out(clock: ManualClock) -> None:
    config = EmulatorConfig(clock=clock, faults=Faults(rate_slow=1.0, slow_seconds=0.5))
    with YandexEmulator(config) as emu:
        async with client_for(emu, clock, auth="api_key", yandex_timeout_seconds=0.1) as client:
            with pytest.raises(YandexUnavailable, match="timed out"):
                await client.create_search(SearchRequest(QUERY))


async def test_done_omitted_while_false(clock: ManualClock) -> None:
    with YandexEmulator(EmulatorConfig(clock=clock, time_to_done=60, omit_false_done=True)) as emu:
        async with client_for(emu, clock, auth="api_key") as client:
            op = await client.create_search(SearchRequest(QUERY))
            raw = httpx.get(
                f"{emu.url}/operations/{op.id}", headers={"Authorization": "Api-Key AQVNsandbox-api-key"}
            )
            assert "done" not in raw.json()
            done = await client.wait(op.id, poll_interval=30, timeout=600)
    assert base64.b64decode(json.loads(json.dumps({"r": done.raw_data}))["r"]).startswith(b"<?xml")


async def test_polls_to_done_and_cancel(clock: ManualClock) -> None:
    with YandexEmulator(EmulatorConfig(clock=clock, time_to_done=0, polls_to_done=3)) as emu:
        async with client_for(emu, clock, auth="api_key") as client:
            op = await client.create_search(SearchRequest(QUERY))
            assert not (await client.get_operation(op.id)).finished
            assert not (await client.get_operation(op.id)).finished
            assert (await client.get_operation(op.id)).done
        headers = {"Authorization": "Api-Key AQVNsandbox-api-key"}
        other = httpx.post(
            f"{emu.url}/v2/web/searchAsync",
            json={"query": {"searchType": "SEARCH_TYPE_RU", "queryText": "x"}},
            headers=headers,
        ).json()
        cancelled = httpx.post(f"{emu.url}/operations/{other['id']}:cancel", headers=headers).json()
        assert cancelled["done"] is True and cancelled["error"]["code"] == 1
    assert emu.recorded("cancel")[0].at == clock()


def test_request_timestamps_use_the_emulator_clock(emulator: YandexEmulator, clock: ManualClock) -> None:
    httpx.get(f"{emulator.url}/nowhere")
    clock.advance(timedelta(seconds=5).total_seconds())
    httpx.get(f"{emulator.url}/nowhere")
    first, second = emulator.requests
    assert (second.at - first.at).total_seconds() == 5 and first.status == 404


def test_hourly_quota_and_unknown_fields(clock: ManualClock) -> None:
    config = EmulatorConfig(clock=clock, rps=None, rph=3, reject_unknown_fields=True)
    headers = {"Authorization": "Api-Key AQVNsandbox-api-key"}
    body = {"query": {"searchType": "SEARCH_TYPE_RU", "queryText": "окна"}}
    with YandexEmulator(config) as emu:
        url = f"{emu.url}/v2/web/searchAsync"
        codes = []
        for _ in range(4):
            codes.append(httpx.post(url, json=body, headers=headers).status_code)
            clock.advance(600)
        clock.advance(hours=1)
        codes.append(httpx.post(url, json=body, headers=headers).status_code)
        unknown = httpx.post(url, json={**body, "colour": "red"}, headers=headers)
    assert codes == [200, 200, 200, 429, 200]
    assert unknown.status_code == 400 and "colour" in unknown.json()["message"]
