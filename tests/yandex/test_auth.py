"""Credentials: SA key parsing, PS256 JWT, the IAM token cache (manual clock), 401 refresh, fallbacks."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from leadgen.clock import ManualClock
from leadgen.errors import AuthError, ConfigurationError, YandexUnavailable
from leadgen.yandex import (
    ApiKeyCredentials,
    IamTokenCredentials,
    SearchRequest,
    ServiceAccountKey,
    StaticTokenCredentials,
    YandexClient,
    credentials_from_settings,
    make_jwt,
)
from leadgen.yandex.auth import IAM_AUDIENCE
from tests.yandex.conftest import API, IAM, OPS, make_settings

pytestmark = pytest.mark.anyio

PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = PRIVATE.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC_PEM = (
    PRIVATE.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
CLI_KEY = {
    "id": "ajekeyid000000000001",
    "service_account_id": "ajesa00000000000001",
    "created_at": "2025-01-01T00:00:00Z",
    "key_algorithm": "RSA_2048",
    "public_key": PUBLIC_PEM,
    "private_key": "PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <ajekeyid000000000001>\n"
    + PRIVATE_PEM,
}
REST_KEY = {
    "key": {
        "id": "ajekeyid000000000001",
        "serviceAccountId": "ajesa00000000000001",
        "keyAlgorithm": "RSA_2048",
    },
    "privateKey": PRIVATE_PEM,
}


@pytest.mark.parametrize("data", [CLI_KEY, REST_KEY], ids=["cli-snake-case", "rest-camel-case"])
def test_service_account_key_both_spellings(data: dict[str, object]) -> None:
    key = ServiceAccountKey.from_json(json.dumps(data))
    assert (key.key_id, key.service_account_id) == ("ajekeyid000000000001", "ajesa00000000000001")
    assert key.private_key.get_secret_value().startswith("-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE" not in repr(key)


@pytest.mark.parametrize(
    ("text", "match"),
    [("not json", "not valid JSON"), ("[]", "JSON object"), (json.dumps({"id": "k"}), "service_account_id")],
)
def test_bad_service_account_keys(text: str, match: str) -> None:
    with pytest.raises(AuthError, match=match):
        ServiceAccountKey.from_json(text)


def test_jwt_is_ps256_with_kid_and_claims(clock: ManualClock) -> None:
    key = ServiceAccountKey.from_json(json.dumps(CLI_KEY))
    token = make_jwt(key, now=clock())
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "PS256" and header["kid"] == key.key_id and header["typ"] == "JWT"
    claims = jwt.decode(
        token, PUBLIC_PEM, algorithms=["PS256"], audience=IAM_AUDIENCE, options={"verify_exp": False}
    )
    assert claims["iss"] == key.service_account_id
    assert claims["exp"] - claims["iat"] == 360 and claims["iat"] == int(clock().timestamp())


def iam_response(token: str, expires: str) -> httpx.Response:
    return httpx.Response(200, json={"iamToken": token, "expiresAt": expires})


async def test_token_cached_until_sixty_seconds_before_expiry(clock: ManualClock) -> None:
    key = ServiceAccountKey.from_json(json.dumps(CLI_KEY))
    with respx.mock() as router:
        route = router.post(IAM).mock(
            side_effect=[
                iam_response("t1.first", "2026-11-25T23:00:00Z"),  # clock starts 22:00 UTC
                iam_response("t1.second", "2026-11-26T10:00:00.123456+00:00"),
            ]
        )
        async with httpx.AsyncClient() as http:
            creds = IamTokenCredentials(key, http=http, iam_url=IAM, clock=clock)
            assert await creds.token() == "t1.first"
            clock.advance(minutes=58, seconds=59)  # 22:58:59: 61 s left
            assert await creds.token() == "t1.first"
            clock.advance(seconds=1)  # 60 s left: refresh
            assert await creds.token() == "t1.second"
            assert route.call_count == 2 == creds.exchanges
            sent = json.loads(route.calls.last.request.content)
            claims = jwt.decode(sent["jwt"], PUBLIC_PEM, algorithms=["PS256"], audience=IAM_AUDIENCE,
                                options={"verify_exp": False})  # fmt: skip
            assert claims["iat"] == int(clock().timestamp())


async def test_concurrent_callers_share_one_exchange(clock: ManualClock) -> None:
    import asyncio

    key = ServiceAccountKey.from_json(json.dumps(CLI_KEY))
    with respx.mock() as router:
        route = router.post(IAM).mock(return_value=iam_response("t1.shared", "2026-11-26T10:00:00Z"))
        async with httpx.AsyncClient() as http:
            creds = IamTokenCredentials(key, http=http, iam_url=IAM, clock=clock)
            tokens = await asyncio.gather(*(creds.token() for _ in range(20)))
    assert set(tokens) == {"t1.shared"} and route.call_count == 1


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(401, json={"code": 16, "message": "JWT signature is invalid"}), AuthError),
        (httpx.Response(400, json={"code": 3, "message": "bad jwt"}), AuthError),
        (httpx.Response(503, text="busy"), YandexUnavailable),
        (httpx.Response(200, json={"expiresAt": "2026-11-26T10:00:00Z"}), AuthError),
    ],
)
async def test_iam_exchange_failures(
    clock: ManualClock, response: httpx.Response, error: type[Exception]
) -> None:
    key = ServiceAccountKey.from_json(json.dumps(CLI_KEY))
    with respx.mock() as router:
        router.post(IAM).mock(return_value=response)
        async with httpx.AsyncClient() as http:
            creds = IamTokenCredentials(key, http=http, iam_url=IAM, clock=clock)
            with pytest.raises(error):
                await creds.token()


async def test_401_refreshes_the_token_once_then_fails(clock: ManualClock) -> None:
    s = make_settings(yandex_cloud_sa_key_json=json.dumps(CLI_KEY))
    poll = f"{OPS}/operations/spp1"
    with respx.mock() as router:
        iam = router.post(IAM).mock(
            side_effect=[iam_response(f"t1.token{i}", "2026-11-26T10:00:00Z") for i in range(5)]
        )
        expired = httpx.Response(401, json={"code": 16, "message": "Token is invalid or has expired."})
        ok = httpx.Response(200, json={"id": "spp1", "done": False})
        route = router.get(poll).mock(side_effect=[expired, ok, expired, expired])
        async with YandexClient(
            httpx.AsyncClient(), s, clock=clock, sleep=clock.async_sleep, owns_http=True
        ) as c:
            assert (await c.get_operation("spp1")).id == "spp1"
            assert [r.request.headers["Authorization"] for r in route.calls] == [
                "Bearer t1.token0",
                "Bearer t1.token1",
            ]
            with pytest.raises(AuthError, match="401"):
                await c.get_operation("spp1")
    assert iam.call_count == 3 and route.call_count == 4


async def test_static_token_401_is_not_retried(clock: ManualClock) -> None:
    s = make_settings(yandex_cloud_iam_token="t1.static")
    with respx.mock() as router:
        route = router.post(f"{API}/v2/web/searchAsync").mock(
            return_value=httpx.Response(401, json={"code": 16, "message": "Token is invalid or has expired."})
        )
        async with YandexClient(
            httpx.AsyncClient(), s, clock=clock, sleep=clock.async_sleep, owns_http=True
        ) as c:
            with pytest.raises(AuthError):
                await c.create_search(SearchRequest("q"))
    assert route.call_count == 1


async def test_credentials_precedence(tmp_path: Path, clock: ManualClock) -> None:
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(CLI_KEY))
    async with httpx.AsyncClient() as http:
        both = make_settings(
            yandex_cloud_sa_key_file=key_file, yandex_cloud_iam_token="t1.x", yandex_api_key="k"
        )
        assert isinstance(credentials_from_settings(both, http=http), IamTokenCredentials)
        token = make_settings(yandex_cloud_iam_token="t1.x", yandex_api_key="k")
        assert isinstance(credentials_from_settings(token, http=http), StaticTokenCredentials)
        api = make_settings(yandex_api_key="AQVN")
        assert isinstance(credentials_from_settings(api, http=http), ApiKeyCredentials)
        with pytest.raises(ConfigurationError) as info:
            credentials_from_settings(make_settings(), http=http)
        for name in (
            "YANDEX_CLOUD_SA_KEY_FILE",
            "YANDEX_CLOUD_SA_KEY_JSON",
            "YANDEX_CLOUD_IAM_TOKEN",
            "YANDEX_API_KEY",
        ):
            assert name in str(info.value)
        with pytest.raises(AuthError, match="cannot read"):
            credentials_from_settings(
                make_settings(yandex_cloud_sa_key_file=tmp_path / "nope.json"), http=http
            )


def test_token_cache_is_shared_across_threads_and_event_loops(clock: ManualClock) -> None:
    import asyncio
    import threading

    key = ServiceAccountKey.from_json(json.dumps(CLI_KEY))
    results: list[str] = []
    with respx.mock() as router:
        route = router.post(IAM).mock(return_value=iam_response("t1.threads", "2026-11-26T10:00:00Z"))
        creds = IamTokenCredentials(key, http=httpx.AsyncClient(), iam_url=IAM, clock=clock)
        asyncio.run(creds.token())  # the first exchange, on this thread's loop
        threads = [
            threading.Thread(target=lambda: results.append(asyncio.run(creds.token()))) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == ["t1.threads"] * 4 and route.call_count == 1
