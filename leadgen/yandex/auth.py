"""Authorization headers for Yandex Cloud: IAM tokens from a service-account key (PS256 JWT), static token, API key.

auth = credentials_from_settings(settings, http=http_client, clock=clock)
headers = await auth.headers()            # {"Authorization": "Bearer t1...."}
if auth.invalidate(headers): retry once   # after a 401
"""

from __future__ import annotations

import asyncio
import json
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt
from pydantic import SecretStr

from leadgen.clock import Clock, utc_now
from leadgen.errors import AuthError, ConfigurationError, YandexAPIError
from leadgen.settings import Settings
from leadgen.yandex.errormap import json_object, raise_for_response, translate_transport_errors

IAM_AUDIENCE = "https://iam.api.cloud.yandex.net/iam/v1/tokens"
JWT_LIFETIME = timedelta(seconds=360)  # the documented Python example; the IAM service accepts up to 3600 s
REFRESH_MARGIN = timedelta(seconds=60)  # a cached token is replaced this long before it expires
PEM_BEGIN = "-----BEGIN"


class Credentials(Protocol):
    """What the client needs from a credential: headers, and whether a 401 is worth one retry."""

    async def headers(self) -> dict[str, str]: ...

    def invalidate(self, used: dict[str, str]) -> bool:
        """Forget the value in `used`; True when a retry could succeed with fresh headers."""
        ...


@dataclass(frozen=True, slots=True)
class ServiceAccountKey:
    """A service-account authorized key (`yc iam key create` output or the REST Key.create response)."""

    key_id: str
    service_account_id: str
    private_key: SecretStr

    @classmethod
    def from_json(cls, text: str, /) -> ServiceAccountKey:
        """Parse snake_case (CLI file) or camelCase (REST) key JSON; raise AuthError naming what is missing."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AuthError(f"service-account key is not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise AuthError("service-account key must be a JSON object")
        raw_nested = data.get("key")
        nested: dict[str, Any] = raw_nested if isinstance(raw_nested, dict) else {}
        key_id = data.get("id") or nested.get("id")
        sa_id = (
            data.get("service_account_id") or nested.get("serviceAccountId") or data.get("serviceAccountId")
        )
        private = data.get("private_key") or data.get("privateKey")
        missing = [
            name
            for name, value in (("id", key_id), ("service_account_id", sa_id), ("private_key", private))
            if not isinstance(value, str) or not value
        ]
        if missing:
            raise AuthError(f"service-account key lacks {', '.join(missing)}")
        return cls(str(key_id), str(sa_id), SecretStr(_strip_explanatory_text(str(private))))

    @classmethod
    def from_file(cls, path: Path, /) -> ServiceAccountKey:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AuthError(f"cannot read YANDEX_CLOUD_SA_KEY_FILE {path}: {exc.strerror}") from None
        return cls.from_json(text)

    def __repr__(self) -> str:
        return f"ServiceAccountKey(key_id={self.key_id!r}, service_account_id={self.service_account_id!r})"


def _strip_explanatory_text(pem: str) -> str:
    """Drop the `PLEASE DO NOT REMOVE THIS LINE! ...` line newer keys carry before `-----BEGIN` (RFC 7468)."""
    start = pem.find(PEM_BEGIN)
    return pem[start:] if start > 0 else pem


def make_jwt(key: ServiceAccountKey, /, *, now: datetime, audience: str = IAM_AUDIENCE) -> str:
    """A PS256-signed JWT for the IAM token exchange (`kid` = key id, `iss` = service account id)."""
    issued = int(now.timestamp())
    payload = {
        "iss": key.service_account_id,
        "aud": audience,
        "iat": issued,
        "exp": issued + int(JWT_LIFETIME.total_seconds()),
    }
    try:
        return jwt.encode(
            payload, key.private_key.get_secret_value(), algorithm="PS256", headers={"kid": key.key_id}
        )
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise AuthError(f"cannot sign a JWT with the service-account key {key.key_id}: {exc}") from None


class ApiKeyCredentials:
    """`Authorization: Api-Key <secret>` for a service-account API key (scope yc.search-api.execute)."""

    def __init__(self, api_key: SecretStr) -> None:
        self._key = api_key

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Api-Key {self._key.get_secret_value()}"}

    def invalidate(self, used: dict[str, str]) -> bool:
        return False


class StaticTokenCredentials:
    """A fixed IAM token (lives at most 12 h; nothing can refresh it)."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

    def invalidate(self, used: dict[str, str]) -> bool:
        return False


class IamTokenCredentials:
    """IAM tokens exchanged for a PS256 JWT, cached until 60 s before `expiresAt`; thread-safe.

    Concurrent callers on one event loop share one exchange; callers on other threads see the cached token.
    """

    def __init__(
        self,
        key: ServiceAccountKey,
        *,
        http: httpx.AsyncClient,
        iam_url: str = IAM_AUDIENCE,
        clock: Clock = utc_now,
    ) -> None:
        self._key = key
        self._http = http
        self._iam_url = iam_url
        self._clock = clock
        self._state_lock = threading.Lock()
        self._token: str | None = None
        self._expires_at: datetime | None = None
        self._fetch_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self.exchanges = 0  # how many times the IAM endpoint was called (observability and tests)

    def _cached(self) -> str | None:
        with self._state_lock:
            if self._token and self._expires_at and self._clock() < self._expires_at - REFRESH_MARGIN:
                return self._token
            return None

    def _fetch_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._state_lock:
            lock = self._fetch_locks.get(loop)
            if lock is None:
                lock = self._fetch_locks[loop] = asyncio.Lock()
            return lock

    async def token(self) -> str:
        """A valid IAM token, from the cache or a fresh exchange."""
        cached = self._cached()
        if cached:
            return cached
        async with self._fetch_lock():
            cached = self._cached()
            if cached:
                return cached
            token, expires_at = await self._exchange()
            with self._state_lock:
                self._token, self._expires_at = token, expires_at
            return token

    async def _exchange(self) -> tuple[str, datetime]:
        now = self._clock()
        signed = make_jwt(self._key, now=now)
        what = "IAM token exchange"
        with translate_transport_errors(what):
            response = await self._http.post(self._iam_url, json={"jwt": signed})
        self.exchanges += 1
        try:
            raise_for_response(response, what=what, now=now)
        except YandexAPIError as exc:  # a 4xx from IAM means the key or the JWT was refused
            raise AuthError(str(exc)) from exc
        body = json_object(response, what=what)
        token, expires = body.get("iamToken"), body.get("expiresAt")
        if not isinstance(token, str) or not token:
            raise AuthError(f"{what}: response has no iamToken")
        try:
            expires_at = datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
        except ValueError:
            expires_at = now + timedelta(hours=1)  # documented maximum is 12 h; assume the refresh period
        if expires_at.tzinfo is None:
            raise AuthError(f"{what}: expiresAt {expires!r} has no time zone")
        return token, expires_at

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token()}"}

    def invalidate(self, used: dict[str, str]) -> bool:
        with self._state_lock:
            if self._token and used.get("Authorization") == f"Bearer {self._token}":
                self._token, self._expires_at = None, None
        return True


def credentials_from_settings(
    settings: Settings, *, http: httpx.AsyncClient, clock: Clock = utc_now
) -> Credentials:
    """Pick credentials in order: SA key (file or JSON) → static IAM token → API key; ConfigurationError when none."""
    if settings.yandex_cloud_sa_key_file or settings.yandex_cloud_sa_key_json:
        if settings.yandex_cloud_sa_key_file:
            key = ServiceAccountKey.from_file(settings.yandex_cloud_sa_key_file)
        else:
            assert settings.yandex_cloud_sa_key_json is not None
            key = ServiceAccountKey.from_json(settings.yandex_cloud_sa_key_json.get_secret_value())
        return IamTokenCredentials(key, http=http, iam_url=settings.yandex_iam_url, clock=clock)
    if settings.yandex_cloud_iam_token and settings.yandex_cloud_iam_token.get_secret_value():
        return StaticTokenCredentials(settings.yandex_cloud_iam_token)
    if settings.yandex_api_key and settings.yandex_api_key.get_secret_value():
        return ApiKeyCredentials(settings.yandex_api_key)
    raise ConfigurationError(
        "no Yandex credentials: set YANDEX_CLOUD_SA_KEY_FILE or YANDEX_CLOUD_SA_KEY_JSON "
        "(service-account key), YANDEX_CLOUD_IAM_TOKEN or YANDEX_API_KEY"
    )
