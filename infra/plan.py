"""What the Prefect side should look like, derived from Settings: limit names, work pool and variables (pure)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from leadgen.settings import Settings

YANDEX_SEARCH = "yandex-search"
YANDEX_SEARCH_HOURLY = "yandex-search-hourly"
EMAIL_DAILY = "email-daily"
YANDEX_LIMITS = [YANDEX_SEARCH, YANDEX_SEARCH_HOURLY]
# A worker takes this many seconds' worth of Yandex requests in one slot request (`yandex-search` holds them) and
# spends them one every (1 s + jitter) / YANDEX_RPS, so requests YANDEX_RPS apart are a second plus the jitter apart
# when they leave and still a second apart when they arrive; the limit frees them the margin later than they can
# have been spent: the time a slot request may take (leadgen.yandex.grant.Grant). Workers thus never pass
# YANDEX_RPS in a second, and reach at most 10 / (10 x 1.05 + 0.15) = 0.939 of it.
YANDEX_GRANT_SECONDS = 10
YANDEX_GRANT_MARGIN_SECONDS = 0.15
YANDEX_ARRIVAL_JITTER_SECONDS = 0.05

VAR_BATCH_SIZE = "leadgen_batch_size"
VAR_SEARCH_LIMIT = "leadgen_search_limit"
VAR_SEND_LIMIT = "leadgen_send_limit"

WorkPoolType = str  # "docker" in production; "process" stands in where no Docker engine exists


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """A global concurrency limit used as a rate limit: `limit` slots, freed at `slot_decay_per_second`."""

    name: str
    limit: int
    slot_decay_per_second: float


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """The work pool: its name, type, run concurrency and defaults for the job variables it knows."""

    name: str
    type: WorkPoolType
    concurrency_limit: int
    job_defaults: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BootstrapPlan:
    """Everything `infra.bootstrap` creates or updates."""

    pool: PoolSpec
    limits: tuple[LimitSpec, ...]
    variables: dict[str, Any]


def send_window_seconds(settings: Settings) -> int:
    """Length of the daily send window in seconds (the end minute is inclusive; it may cross midnight)."""
    start, end = settings.send_window_bounds
    day = datetime(2000, 1, 1)
    opens = datetime.combine(day, start)
    closes = datetime.combine(day, end) + timedelta(minutes=1)
    if closes <= opens:
        closes += timedelta(days=1)
    return int((closes - opens).total_seconds())


def limit_specs(settings: Settings) -> tuple[LimitSpec, ...]:
    """The three rate limits.

    - `yandex-search`: YANDEX_GRANT_SECONDS x `YANDEX_RPS` slots, all freed YANDEX_GRANT_MARGIN_SECONDS after
      they can have been spent (documented quota 10 rps); a worker takes all of them in one request and spends
      them at `YANDEX_RPS` per (1 s + YANDEX_ARRIVAL_JITTER_SECONDS) (`tasks.limits.GlobalQuotaLimiter`).
    - `yandex-search-hourly`: as many slots, freed at `YANDEX_RPH`/3600 per second (35 000 per hour).
    - `email-daily`: a burst of `PREFECT_EMAIL_BURST` (at most the cap), freed so that the whole daily cap fits
      in the send window: `OUTREACH_DAILY_CAP / send-window seconds`. Spreading it over 86 400 s instead would
      let only `burst + cap * window/24h` sends happen (about 40 of 100 in a 9-hour window); the per-day
      count in the database is the authoritative cap either way (docs/operations.md).
    """
    cap = settings.outreach_daily_cap
    grant = YANDEX_GRANT_SECONDS * settings.yandex_rps
    spent_in = YANDEX_GRANT_SECONDS * (1.0 + YANDEX_ARRIVAL_JITTER_SECONDS)
    return (
        LimitSpec(YANDEX_SEARCH, grant, grant / (spent_in + YANDEX_GRANT_MARGIN_SECONDS)),
        LimitSpec(YANDEX_SEARCH_HOURLY, grant, settings.yandex_rph / 3600),
        LimitSpec(
            EMAIL_DAILY,
            max(1, min(cap, settings.prefect_email_burst)),
            max(cap, 1) / send_window_seconds(settings),
        ),
    )


def pool_spec(settings: Settings, *, pool_type: WorkPoolType = "docker", name: str | None = None) -> PoolSpec:
    """The work pool; for Docker, defaults for image, network and pull policy (deployments may override)."""
    defaults: dict[str, Any] = {}
    if pool_type == "docker":
        defaults = {
            "image": settings.prefect_image,
            "image_pull_policy": "Never",
            "networks": [settings.prefect_docker_network],
            "auto_remove": True,
        }
    return PoolSpec(
        name=name or settings.prefect_work_pool,
        type=pool_type,
        concurrency_limit=settings.prefect_pool_concurrency,
        job_defaults=defaults,
    )


def default_variables(settings: Settings) -> dict[str, Any]:
    """Knobs operators change in the UI: rows per task, queries per search run, messages per outreach run."""
    return {
        VAR_BATCH_SIZE: settings.prefect_batch_size,
        VAR_SEARCH_LIMIT: 500,
        VAR_SEND_LIMIT: settings.outreach_daily_cap,
    }


def plan_bootstrap(
    settings: Settings, *, pool_type: WorkPoolType = "docker", pool_name: str | None = None
) -> BootstrapPlan:
    """The desired Prefect objects for these settings."""
    return BootstrapPlan(
        pool=pool_spec(settings, pool_type=pool_type, name=pool_name),
        limits=limit_specs(settings),
        variables=default_variables(settings),
    )


def apply_job_defaults(template: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """A copy of a base job template whose variables default to `defaults` (keys the template lacks are skipped)."""
    result = copy.deepcopy(template)
    properties = result.get("variables", {}).get("properties", {})
    for key, value in defaults.items():
        if key in properties:
            properties[key]["default"] = value
    return result
