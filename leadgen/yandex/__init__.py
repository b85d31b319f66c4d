"""Yandex Search API v2 deferred mode: client, credentials, quota limiter, night window and pipeline stages."""

from leadgen.yandex.auth import (
    ApiKeyCredentials,
    Credentials,
    IamTokenCredentials,
    ServiceAccountKey,
    StaticTokenCredentials,
    credentials_from_settings,
    make_jwt,
)
from leadgen.yandex.client import YandexClient
from leadgen.yandex.limiter import Quota, QuotaLimiter
from leadgen.yandex.night import ensure_night, is_night, next_night_start, night_window
from leadgen.yandex.types import Operation, SearchRequest

__all__ = [
    "ApiKeyCredentials",
    "Credentials",
    "IamTokenCredentials",
    "Operation",
    "Quota",
    "QuotaLimiter",
    "SearchRequest",
    "ServiceAccountKey",
    "StaticTokenCredentials",
    "YandexClient",
    "credentials_from_settings",
    "ensure_night",
    "is_night",
    "make_jwt",
    "next_night_start",
    "night_window",
]
