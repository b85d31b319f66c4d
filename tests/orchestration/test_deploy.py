"""prefect.yaml: schedules inside the windows, entrypoints that exist, and `prefect deploy --all` on a real server."""

from __future__ import annotations

import ast
import asyncio
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from infra.bootstrap import bootstrap
from leadgen.settings import Settings
from leadgen.windows import DailyWindow
from tests.orchestration.server import BIN, PrefectServer
from tests.support.source import parse_file

ROOT = Path(__file__).resolve().parents[2]
NIGHT_FLOWS = {
    "plan_batch_flow",
    "night_flow",
    "night_search_flow",
    "collect_results_flow",
    "enrich_contacts_flow",
}
# One `night` run a night does their work; these keep inactive schedules for ad-hoc or per-stage use.
STAGE_FLOWS = {"night_search_flow", "collect_results_flow", "enrich_contacts_flow"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def deployments() -> list[dict[str, Any]]:
    return list(yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"])


def fire_times(cron: str, timezone: str, n: int = 300) -> list[datetime]:
    from prefect.server.schemas.schedules import CronSchedule

    schedule = CronSchedule(cron=cron, timezone=timezone)
    start = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
    return list(asyncio.run(schedule.get_dates(n=n, start=start)))


def test_one_deployment_per_flow_with_existing_entrypoints() -> None:
    entrypoints = sorted(d["entrypoint"] for d in deployments())
    stages = (
        "plan_batch",
        "night",
        "night_search",
        "collect_results",
        "enrich_contacts",
        "outreach",
        "mailbox_sync",
        "report",
        "pipeline",
    )
    assert entrypoints == sorted(f"flows/{name}.py:{name}_flow" for name in stages)
    for entry in entrypoints:
        path, func = entry.split(":")
        tree = parse_file(ROOT / path)
        flows = [
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and any("flow" in ast.unparse(d) for d in node.decorator_list)
        ]
        assert func in flows, f"{entry}: no @flow function {func}"


def test_schedules_stay_inside_their_windows() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    night = DailyWindow.parse(settings.night_window, settings.tz)
    send = DailyWindow.parse(settings.outreach_send_window, settings.tz)
    for deployment in deployments():
        func = deployment["entrypoint"].split(":")[1]
        schedules = deployment.get("schedules") or []
        if func == "pipeline_flow":
            assert schedules == [], "pipeline is for ad-hoc runs only"
            continue
        assert schedules, f"{func} has no schedule"
        active = [schedule["active"] for schedule in schedules]
        assert active == [func not in STAGE_FLOWS] * len(schedules), f"{func}: schedules active {active}"
        for schedule in schedules:
            assert schedule["timezone"] == "Europe/Moscow"
            times = fire_times(schedule["cron"], schedule["timezone"])
            if func in NIGHT_FLOWS:
                outside = [t for t in times if not night.contains(t)]
                assert outside == [], f"{func} fires outside the night window: {outside[:3]}"
            elif func == "mailbox_sync_flow":
                for t in times:
                    local = t.astimezone(settings.tz)
                    assert (8, 0) <= (local.hour, local.minute) <= (22, 0), f"mailbox sync fires at {local}"
            elif func == "outreach_flow":
                for t in times:
                    assert send.contains(t), f"outreach fires outside the send window at {t}"
                    assert WEEKDAYS[t.astimezone(settings.tz).weekday()] in settings.outreach_send_weekdays


def test_mailbox_sync_runs_every_half_hour_from_8_to_22_moscow_time() -> None:
    [deployment] = [d for d in deployments() if d["entrypoint"].endswith(":mailbox_sync_flow")]
    times: set[tuple[int, int]] = set()
    for schedule in deployment["schedules"]:
        for t in fire_times(schedule["cron"], schedule["timezone"], n=200):
            local = t.astimezone(ZoneInfo("Europe/Moscow"))
            times.add((local.hour, local.minute))
    expected = {(h, m) for h in range(8, 22) for m in (0, 30)} | {(22, 0)}
    assert times == expected


def test_deployments_use_the_docker_pool_and_hold_no_secrets() -> None:
    text = (ROOT / "prefect.yaml").read_text()
    for deployment in deployments():
        pool = deployment["work_pool"]
        assert pool["name"] == "{{ $PREFECT_WORK_POOL }}"
        variables = pool["job_variables"]
        assert variables["image"] == "{{ $PREFECT_IMAGE }}"
        assert "leadgen_config:/opt/leadgen/config:ro" in variables["volumes"]
        for name in variables.get("env", {}):
            assert not any(word in name for word in ("PASSWORD", "KEY", "TOKEN", "SECRET", "DATABASE_URL"))
    for secret in ("DATABASE_URL", "PASSWORD", "API_KEY", "IAM_TOKEN"):
        assert "$" + secret not in text


@pytest.mark.slow
def test_prefect_deploy_all_against_a_real_server(prefect_server: PrefectServer, prefect_api: str) -> None:
    from prefect.client.orchestration import get_client

    pool = f"leadgen-docker-{uuid.uuid4().hex[:6]}"
    bootstrap(Settings(_env_file=None), pool_name=pool)  # type: ignore[call-arg]
    env = prefect_server.env(
        PREFECT_WORK_POOL=pool,
        PREFECT_IMAGE="leadgen:test",
        PREFECT_DOCKER_NETWORK="leadgen",
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(
        [str(BIN / "prefect"), "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    async def read() -> list[Any]:
        async with get_client() as client:
            return [d for d in await client.read_deployments() if d.work_pool_name == pool]

    registered = {d.entrypoint: d for d in asyncio.run(read())}
    assert len(registered) == 9
    pipeline = registered["flows/pipeline.py:pipeline_flow"]
    assert pipeline.schedules == []
    assert pipeline.parameter_openapi_schema["required"] == ["params"]
    props = pipeline.parameter_openapi_schema["definitions"]["PipelineParams"]["properties"]
    assert {"batch_tag", "dry_run", "search_limit"} <= set(props)
    night = registered["flows/night.py:night_flow"]
    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in night.schedules] == [
        ("10 0 * * *", "Europe/Moscow", True)
    ]
    search = registered["flows/night_search.py:night_search_flow"]
    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in search.schedules] == [
        ("10-50/10 0-5 * * *", "Europe/Moscow", False)
    ]
    mailbox = registered["flows/mailbox_sync.py:mailbox_sync_flow"]
    assert sorted((s.schedule.cron, s.active) for s in mailbox.schedules) == [
        ("*/30 8-21 * * *", True),
        ("0 22 * * *", True),
    ]
    assert search.job_variables["image"] == "leadgen:test"
    assert search.job_variables["networks"] == ["leadgen"]
    assert search.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "/opt/leadgen"}}
    ]
