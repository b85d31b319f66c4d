"""End-to-end `docker kill` of `pipeline/adhoc` flow-run containers mid-crawl and mid-send, then reruns (issue 23).

Not part of `make test`: it needs root-free access to a running Docker engine with the `leadgen:latest` image
(scripts/docker_e2e_image.sh builds it without a registry), Postgres on 127.0.0.1:5432 (trust) and a few
minutes. It starts, on the host: the loopback sandbox, a `prefect server`, a Docker worker; flow runs get
`network_mode=host` so they reach all of them on 127.0.0.1.

    /work/main/.venv/bin/python scripts/docker_kill_e2e.py [--workdir DIR] [--heartbeat-window S]

One at a time per machine: it recreates the database `leadgen_docker_e2e` and kills the `leadgen:latest`
container it finds running. Exit codes: 0 every check passed, 1 a check failed, 77 skipped (no Docker engine or no image; the reason is
printed). The outcome is printed as one JSON document at the end (docs/reliability.md records one).
"""

# ruff: noqa: S603, S607, S310, S108  (a test driver: fixed commands, loopback URLs, its own /tmp folder)
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BIN = Path(PY).parent
IMAGE = "leadgen:latest"
POOL = "leadgen-e2e"
DB = "leadgen_docker_e2e"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
BATCH = "demo"  # the batch tag of the sandbox niches CSV
SKIP = 77


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def skip_reason() -> str | None:
    """Why this cannot run here, or None."""
    if shutil.which("docker") is None:
        return "no docker CLI"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "the Docker engine is not reachable (start dockerd)"
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode != 0:
        return f"no {IMAGE} image (scripts/docker_e2e_image.sh builds one)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    """The host processes (sandbox, Prefect server, worker) and the environment the host commands use."""

    def __init__(self, workdir: Path, heartbeat: int) -> None:
        self.workdir = workdir
        self.heartbeat = heartbeat
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = dict(os.environ, PYTHONPATH=str(ROOT), PREFECT_API_URL=self.api)
        self.env["PREFECT_HOME"] = str(workdir / "prefect-home")
        self.env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        out = open(self.workdir / f"{name}.log", "wb")
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def run(self, args: list[str]) -> str:
        done = subprocess.run(args, cwd=ROOT, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:4])}: exit {done.returncode}: {done.stderr[-2000:]}")
        return done.stdout

    def stop(self) -> None:
        for proc in reversed(self.procs):  # only the processes this script started, by their pid
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def reset_database() -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {DB}"))
    engine.dispose()


def start_sandbox(stack: Stack) -> dict[str, str]:
    """`leadgen sandbox up` on loopback; its settings plus ours, written to WORKDIR/config/.env for containers."""
    sandbox_env = stack.workdir / "sandbox.env"
    stack.spawn(
        "sandbox",
        [
            str(BIN / "leadgen"),
            "sandbox",
            "up",
            "--workdir",
            str(stack.workdir / "sandbox"),
            "--env-file",
            str(sandbox_env),
        ],
    )
    wait_for(lambda: sandbox_env.exists(), 60, "sandbox settings")
    from dotenv import dotenv_values

    settings = {k: v or "" for k, v in dotenv_values(sandbox_env).items()}
    settings.update(
        DATABASE_URL=f"{PG}/{DB}",
        PREFECT_WORK_POOL=POOL,
        PREFECT_IMAGE=IMAGE,
        # Slow enough that a kill lands in the middle of each stage, on a loaded machine too.
        CRAWL_PER_HOST_DELAY_SECONDS="0.5",
        OUTREACH_SPACING_SECONDS="2",
    )
    config = stack.workdir / "config"
    config.mkdir(exist_ok=True)
    lines = [f"{k}='{v}'" for k, v in sorted(settings.items())]
    (config / ".env").write_text("\n".join(lines) + "\n")
    open_to_containers(stack.workdir)
    stack.env.update(settings)
    return settings


def open_to_containers(workdir: Path) -> None:
    """Flow-run containers run as uid 10001: every folder and file the host made there must be theirs to write."""
    for path in (workdir, *workdir.rglob("*")):
        path.chmod(0o777 if path.is_dir() else 0o666)


def wait_for(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(1)
    raise RuntimeError(f"timed out after {seconds:.0f} s waiting for {what}")


def start_prefect(stack: Stack) -> None:
    stack.spawn("prefect-server", [str(BIN / "prefect"), "server", "start", "--port", str(stack.port)])
    wait_for(lambda: urllib.request.urlopen(f"{stack.api}/health", timeout=3).status == 200, 180, "server")
    log(f"prefect server at {stack.api}")
    stack.run([str(BIN / "leadgen"), "db", "upgrade"])
    log(
        "bootstrap: "
        + stack.run([str(BIN / "leadgen"), "infra", "bootstrap", "--pool-name", POOL]).strip()[-300:]
    )
    open_to_containers(stack.workdir)  # bootstrap, run as root here, made DATA_DIR/task-cache (and DATA_DIR)
    env = dict(PREFECT_DOCKER_NETWORK="host")
    stack.env.update(env)
    stack.run([str(BIN / "prefect"), "--no-prompt", "deploy", "--name", "adhoc"])
    stack.spawn("worker", [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "docker"])


def job_variables(stack: Stack) -> dict[str, Any]:
    """Host networking (sandbox, Postgres and the API are on 127.0.0.1), the settings and the work folder."""
    w = stack.workdir
    return {
        "network_mode": "host",
        "networks": [],
        "volumes": [f"{w}/config:/opt/leadgen/config:ro", f"{w}:{w}"],
        "env": {
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            # The worker hands its own settings on, PREFECT_HOME included (the host's, not writable here).
            "PREFECT_HOME": "/home/leadgen/.prefect",
            "PREFECT_RUNNER_HEARTBEAT_FREQUENCY": str(stack.heartbeat),
        },
    }


def heartbeat_automations() -> list[str]:
    """Names of automations on the server whose trigger mentions flow-run heartbeats."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        autos = client.read_automations()
    return [a.name for a in autos if "heartbeat" in json.dumps(a.trigger.model_dump(mode="json"))]


def install_heartbeat_automation(window: int) -> str:
    """Prefect's documented recipe: a flow run whose heartbeats stop for `window` seconds is marked Crashed."""
    from datetime import timedelta

    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture

    finals = [f"prefect.flow-run.{s}" for s in ("Completed", "Failed", "Cancelled", "Crashed")]
    automation = Automation(
        name="e2e: crash flow runs whose heartbeats stop",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *finals},
            match={"prefect.resource.id": ["prefect.flow-run.*"]},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=window),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, message="heartbeats stopped")],
    )
    return automation.create().name


def start_run(stack: Stack, params: dict[str, Any]) -> str:
    from prefect.deployments import run_deployment

    run = run_deployment(
        "pipeline/adhoc", parameters={"params": params}, job_variables=job_variables(stack), timeout=0
    )
    log(f"flow run {run.id} ({run.name}) scheduled: {params}")
    return str(run.id)


def flow_runs() -> list[dict[str, Any]]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(limit=200)
    return [
        {
            "id": str(r.id),
            "name": r.name,
            "parent": str(r.parent_task_run_id) if r.parent_task_run_id else None,
            "state": r.state.name if r.state else None,
            "type": r.state.type.value if r.state else None,
            "message": (r.state.message or "")[:200] if r.state else "",
        }
        for r in runs
    ]


def run_state(run_id: str) -> dict[str, Any]:
    return next(r for r in flow_runs() if r["id"] == run_id)


def wait_final(run_id: str, seconds: float) -> dict[str, Any]:
    finals = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
    return wait_for(lambda: (s := run_state(run_id))["type"] in finals and s, seconds, f"run {run_id} to end")


def counts(sql: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"{PG}/{DB}")
    with engine.connect() as conn:
        rows = conn.execute(text(sql)).all()
    engine.dispose()
    return {str(k): int(v) for k, v in rows}


def company_counts() -> dict[str, int]:
    return counts("SELECT status, count(*) FROM companies GROUP BY status")


def message_counts() -> dict[str, int]:
    return counts("SELECT status, count(*) FROM outreach_messages GROUP BY status")


def kill_container_when(condition: Any, what: str, seconds: float) -> dict[str, Any]:
    """Wait until `condition()` holds, then `docker kill` the flow-run container; what the database held then."""
    wait_for(condition, seconds, what)
    ids = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"ancestor={IMAGE}"], capture_output=True, text=True, check=True
    ).stdout.split()
    if len(ids) != 1:
        raise RuntimeError(f"expected one flow-run container, found {len(ids)}")
    subprocess.run(["docker", "kill", ids[0]], check=True, capture_output=True)
    snap = {"companies": company_counts(), "messages": message_counts(), "container": ids[0]}
    log(f"docker kill {ids[0]} {what}: {snap}")
    return snap


def crawling() -> bool:
    c = company_counts()
    done = sum(c.get(s, 0) for s in ("enriched", "no_contacts", "unreachable"))
    return c.get("enriching", 0) > 0 and done >= 1


def sending() -> bool:
    m = message_counts()
    return m.get("sent", 0) >= 2 and m.get("queued", 0) + m.get("sending", 0) > 0


def running_after(window: int) -> list[dict[str, Any]]:
    """Flow runs still Running `window` seconds after a kill (or as soon as none is)."""
    deadline = time.monotonic() + window
    while True:
        running = [r for r in flow_runs() if r["type"] == "RUNNING"]
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(5)


def deliveries(stack: Stack) -> list[str]:
    """Message-IDs of every message the sink accepted (its Maildir of deliveries), one per delivery."""
    from leadgen_sandbox.smtp_sink import delivered_message_ids

    return delivered_message_ids(stack.workdir / "sandbox" / "smtp-sink" / "delivered")


def email_limit() -> dict[str, float]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        lim = client.read_global_concurrency_limit_by_name("email-daily")
    return {
        "limit": lim.limit,
        "active_slots": lim.active_slots,
        "slot_decay_per_second": lim.slot_decay_per_second,
    }


def unsettled_unknown() -> int:
    sql = (
        "SELECT 'unknown', count(*) FROM outreach_messages WHERE status = 'unknown' AND NOT "
        "(coalesce(metadata::jsonb, '{}'::jsonb) ?| array['settled_by', 'settlements', 'resolution'])"
    )
    return counts(sql).get("unknown", 0)


def verdict(stack: Stack, outcome: dict[str, Any]) -> list[str]:
    """The issue's checks; the failures, each one line."""
    companies, messages, ids = company_counts(), message_counts(), deliveries(stack)
    sent_rows = sum(messages.get(s, 0) for s in ("sent", "bounced", "replied"))
    outcome.update(
        final_companies=companies,
        final_messages=messages,
        deliveries=len(ids),
        distinct_message_ids=len(set(ids)),
        email_daily=email_limit(),
        unknown_without_evidence=unsettled_unknown(),
        permits_recorded=counts("SELECT 'held', coalesce(sum(held), 0) FROM send_permits").get("held", 0),
    )
    failures = []
    if companies.get("new", 0) + companies.get("enriching", 0):
        failures.append(f"companies not crawled: {companies}")
    if messages.get("sending", 0) or messages.get("queued", 0) or outcome["unknown_without_evidence"]:
        failures.append(f"messages neither sent nor settled: {messages}")
    if len(ids) != len(set(ids)):
        failures.append(f"{len(ids) - len(set(ids))} Message-IDs delivered twice")
    if sent_rows != len(set(ids)):
        failures.append(f"{sent_rows} rows sent/bounced/replied but {len(set(ids))} distinct deliveries")
    for key in ("running_after_crawl_kill", "running_after_send_kill", "running_at_end"):
        if outcome.get(key):
            failures.append(f"{key}: {[r['name'] for r in outcome[key]]}")
    limit = outcome["email_daily"]
    # Slots held beyond the conversations that happened are burned; the killed sender may hold one, the slot of
    # the message it was sending. Its pool's other permits are recorded in send_permits until a send run sees its
    # owner gone and returns them (leadgen.outreach.permit_pool): those are not burned, only not yet returned.
    if limit["active_slots"] > len(ids) + 1.5 + outcome["permits_recorded"]:
        failures.append(
            f"email-daily holds {limit['active_slots']:.1f} slots for {len(ids)} deliveries "
            f"({outcome['permits_recorded']} recorded in send_permits for a later run to return)"
        )
    return failures


def scenario(stack: Stack, window: int, outcome: dict[str, Any]) -> None:
    crawl_only = {"batch_tag": BATCH, "collect_wait_seconds": 300, "send_limit": 0}
    a = start_run(stack, crawl_only)
    outcome["crawl_kill"] = kill_container_when(crawling, "mid-crawl", 900)
    outcome["crawl_killed_run"] = run_state(a)
    outcome["running_after_crawl_kill"] = running_after(window)
    b = start_run(stack, crawl_only)
    outcome["crawl_rerun"] = wait_final(b, 1200)
    outcome["companies_after_crawl_rerun"] = company_counts()
    log(f"crawl rerun: {outcome['crawl_rerun']['state']}; companies {outcome['companies_after_crawl_rerun']}")
    full = {"batch_tag": BATCH, "collect_wait_seconds": 60}
    c = start_run(stack, full)
    outcome["send_kill"] = kill_container_when(sending, "mid-send", 1200)
    outcome["send_killed_run"] = run_state(c)
    outcome["email_daily_after_send_kill"] = email_limit()
    outcome["running_after_send_kill"] = running_after(window)
    d = start_run(stack, full)
    outcome["send_rerun"] = wait_final(d, 1200)
    log(f"send rerun: {outcome['send_rerun']}; messages {message_counts()}")
    outcome["running_at_end"] = [r for r in flow_runs() if r["type"] == "RUNNING"]
    outcome["flow_runs"] = flow_runs()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/leadgen-docker-e2e"))
    parser.add_argument(
        "--heartbeat", type=int, default=30, help="PREFECT_RUNNER_HEARTBEAT_FREQUENCY in runs"
    )
    parser.add_argument(
        "--heartbeat-window", type=int, default=120, help="seconds without heartbeat = crashed"
    )
    parser.add_argument(
        "--no-own-automation",
        action="store_true",
        help="do not install the stand-in heartbeat automation when bootstrap made none",
    )
    args = parser.parse_args()
    reason = skip_reason()
    if reason:
        print(f"skipped: {reason}")
        return SKIP
    # bootstrap's own heartbeat automation uses the same window as the checks
    os.environ["ALERT_HEARTBEAT_WINDOW_SECONDS"] = str(args.heartbeat_window)
    workdir = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    stack = Stack(workdir, args.heartbeat)
    outcome: dict[str, Any] = {"workdir": str(workdir)}
    try:
        reset_database()
        start_sandbox(stack)
        os.environ.update(stack.env)
        start_prefect(stack)
        outcome["heartbeat_automations_from_bootstrap"] = heartbeat_automations()
        if not outcome["heartbeat_automations_from_bootstrap"] and not args.no_own_automation:
            outcome["own_heartbeat_automation"] = install_heartbeat_automation(args.heartbeat_window)
        try:
            scenario(stack, args.heartbeat_window + 2 * args.heartbeat, outcome)
        except RuntimeError as exc:  # a timeout or a missing container: still check and print what is there
            outcome["error"] = str(exc)
            log(f"error: {exc}")
        failures = verdict(stack, outcome) + ([f"error: {outcome['error']}"] if "error" in outcome else [])
    finally:
        stack.stop()
    outcome["failures"] = failures
    print(json.dumps(outcome, indent=1, default=str))
    for line in failures:
        print(f"FAIL: {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
