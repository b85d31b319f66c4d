"""Idempotent bootstrap of the Prefect side: work pool, global concurrency limits, variables."""

from infra.plan import (
    EMAIL_DAILY,
    YANDEX_LIMITS,
    YANDEX_SEARCH,
    YANDEX_SEARCH_HOURLY,
    BootstrapPlan,
    LimitSpec,
    PoolSpec,
    plan_bootstrap,
)

__all__ = [
    "EMAIL_DAILY",
    "YANDEX_LIMITS",
    "YANDEX_SEARCH",
    "YANDEX_SEARCH_HOURLY",
    "BootstrapPlan",
    "LimitSpec",
    "PoolSpec",
    "plan_bootstrap",
]
