"""Create or update the work pool, concurrency limits, variables and alert automations on the Prefect API (idempotent)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    VariableCreate,
    VariableUpdate,
    WorkPoolCreate,
    WorkPoolUpdate,
)
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL
from prefect.workers.utilities import get_default_base_job_template_for_infrastructure_type

from infra.automations import AlertPlan, alert_plan, ensure_alerts
from infra.plan import BootstrapPlan, LimitSpec, PoolSpec, apply_job_defaults, plan_bootstrap
from infra.task_cache import TASK_CACHE_BLOCK, ensure_task_cache
from leadgen.errors import ConfigurationError
from leadgen.settings import Settings

Outcome = Literal["created", "updated", "unchanged", "kept", "skipped"]


def prefect_api_url() -> str | None:
    """PREFECT_API_URL as Prefect resolves it (environment, profile, .env); None when unset."""
    value = PREFECT_API_URL.value()
    return str(value) if value else None


@dataclass(frozen=True, slots=True)
class BootstrapAction:
    """What happened to one Prefect object."""

    kind: Literal[
        "work_pool", "concurrency_limit", "variable", "notification_block", "automation", "result_storage"
    ]
    name: str
    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class BootstrapReport:
    """The API the bootstrap talked to and one action per object."""

    api_url: str | None
    actions: list[BootstrapAction] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(a.outcome in ("created", "updated") for a in self.actions)


async def _ensure_pool(client: PrefectClient, spec: PoolSpec) -> BootstrapAction:
    template = await get_default_base_job_template_for_infrastructure_type(spec.type)
    if template is None:
        raise ConfigurationError(f"unknown work pool type {spec.type!r} (is its worker package installed?)")
    template = apply_job_defaults(template, spec.job_defaults)
    try:
        existing = await client.read_work_pool(spec.name)
    except ObjectNotFound:
        await client.create_work_pool(
            WorkPoolCreate(
                name=spec.name,
                type=spec.type,
                base_job_template=template,
                concurrency_limit=spec.concurrency_limit,
                description="leadgen flow runs (created by `leadgen infra bootstrap`)",
            )
        )
        return BootstrapAction("work_pool", spec.name, "created", spec.type)
    if existing.type != spec.type:
        raise ConfigurationError(
            f"work pool {spec.name!r} exists with type {existing.type!r}, not {spec.type!r}: "
            f"delete it (`prefect work-pool delete {spec.name}`) or set PREFECT_WORK_POOL to another name"
        )
    if existing.base_job_template == template and existing.concurrency_limit == spec.concurrency_limit:
        return BootstrapAction("work_pool", spec.name, "unchanged", spec.type)
    await client.update_work_pool(
        spec.name,
        WorkPoolUpdate(base_job_template=template, concurrency_limit=spec.concurrency_limit),
    )
    return BootstrapAction("work_pool", spec.name, "updated", spec.type)


async def _ensure_limit(client: PrefectClient, spec: LimitSpec) -> BootstrapAction:
    detail = f"limit {spec.limit}, decay {spec.slot_decay_per_second:g}/s"
    try:
        existing = await client.read_global_concurrency_limit_by_name(spec.name)
    except ObjectNotFound:
        await client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(
                name=spec.name,
                limit=spec.limit,
                slot_decay_per_second=spec.slot_decay_per_second,
                active=True,
            )
        )
        return BootstrapAction("concurrency_limit", spec.name, "created", detail)
    same = (
        existing.limit == spec.limit
        and existing.active
        and abs((existing.slot_decay_per_second or 0.0) - spec.slot_decay_per_second) < 1e-9
    )
    if same:
        return BootstrapAction("concurrency_limit", spec.name, "unchanged", detail)
    await client.update_global_concurrency_limit(
        spec.name,
        GlobalConcurrencyLimitUpdate(
            limit=spec.limit, slot_decay_per_second=spec.slot_decay_per_second, active=True
        ),
    )
    return BootstrapAction("concurrency_limit", spec.name, "updated", detail)


async def _ensure_variable(client: PrefectClient, name: str, value: Any, *, reset: bool) -> BootstrapAction:
    existing = await client.read_variable_by_name(name)
    if existing is None:
        await client.create_variable(VariableCreate(name=name, value=value, tags=["leadgen"]))
        return BootstrapAction("variable", name, "created", repr(value))
    if existing.value == value:
        return BootstrapAction("variable", name, "unchanged", repr(value))
    if not reset:
        # Operators tune variables in the UI; a re-run must not undo their change.
        return BootstrapAction("variable", name, "kept", f"{existing.value!r} (default {value!r})")
    await client.update_variable(VariableUpdate(name=name, value=value))
    return BootstrapAction("variable", name, "updated", repr(value))


async def apply_plan(
    plan: BootstrapPlan,
    *,
    client: PrefectClient | None = None,
    reset_variables: bool = False,
    alerts: AlertPlan | None = None,
) -> BootstrapReport:
    """Bring the Prefect API in line with `plan` (and `alerts`); running it twice changes nothing the second time."""
    if client is None:
        async with get_client() as own:
            return await apply_plan(plan, client=own, reset_variables=reset_variables, alerts=alerts)
    actions = [await _ensure_pool(client, plan.pool)]
    for limit in plan.limits:
        actions.append(await _ensure_limit(client, limit))
    for name, value in plan.variables.items():
        actions.append(await _ensure_variable(client, name, value, reset=reset_variables))
    if alerts is not None:
        actions.extend(BootstrapAction(*outcome) for outcome in await ensure_alerts(client, alerts))  # type: ignore[arg-type]
    return BootstrapReport(api_url=PREFECT_API_URL.value(), actions=actions)


def bootstrap(
    settings: Settings,
    *,
    pool_type: str = "docker",
    pool_name: str | None = None,
    reset_variables: bool = False,
) -> BootstrapReport:
    """Synchronous entry point used by `leadgen infra bootstrap`, the demo and the tests."""
    plan = plan_bootstrap(settings, pool_type=pool_type, pool_name=pool_name)
    alerts = alert_plan(settings)  # notification blocks and automations (infra/automations.py)
    report = asyncio.run(apply_plan(plan, reset_variables=reset_variables, alerts=alerts))
    outcome, folder = ensure_task_cache(settings)
    report.actions.append(BootstrapAction("result_storage", TASK_CACHE_BLOCK, outcome, folder))
    return report
