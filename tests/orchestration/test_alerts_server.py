"""Alert automations against a real `prefect server start` WITH its event services (triggers, actions): bootstrap
twice, a failing flow run notifies a local webhook, a SIGKILLed flow run process is marked Crashed once its
heartbeats stop and is notified, and a leadgen alert event notifies once a day.

Marked `slow` (they run in `make test`): one extra server for the module (started once, services other than
events, triggers and actions switched off) and tests that poll, up to ALERT_DEADLINE seconds, for what the
server's services do in real time; the heartbeat test waits out a 10 s window (Prefect's minimum for a proactive
trigger) plus the services' 5 s evaluation period.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from infra.automations import (
    BOUNCE_RATE,
    CAP_EARLY,
    FAILED_OR_CRASHED,
    HEARTBEAT,
    HEARTBEAT_STOPPED,
    NIGHT_BACKLOG,
)
from infra.bootstrap import bootstrap
from infra.notifications import EMAIL_BLOCK_NAME, WEBHOOK_BLOCK_NAME
from leadgen.alerts import EVENT_CAP_EARLY
from leadgen.settings import Settings
from tests.orchestration.conftest import reset_concurrency_services, ship_logs_and_events
from tests.orchestration.server import PrefectServer, ServerStartError, prefect_server_process

pytestmark = pytest.mark.slow

ALERT_DEADLINE = 90.0  # seconds; the services answer in seconds, the margin is for a loaded machine
# Only what automations need: events in (persister), triggers, actions. The rest would only load the 2 cores.
QUIET_SERVICES = {
    f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false"
    for name in (
        "SCHEDULER",
        "LATE_RUNS",
        "FOREMAN",
        "CANCELLATION_CLEANUP",
        "PAUSE_EXPIRATIONS",
        "REPOSSESSOR",
        "DB_VACUUM",
        "EVENT_LOGGER",
    )
}


class Webhook:
    """A loopback HTTP server recording every POSTed JSON body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=s3cret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """The first body matching `predicate`, polled until ALERT_DEADLINE (real time: the server's services)."""
        deadline = time.monotonic() + ALERT_DEADLINE
        while time.monotonic() < deadline:
            for body in list(self.bodies):
                if predicate(body):
                    return body
            time.sleep(0.5)
        raise AssertionError(f"no notification {what} within {ALERT_DEADLINE:.0f} s; got {self.bodies}")


@pytest.fixture(scope="module")
def services_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A real Prefect server with its event services on (the session's shared server runs without them)."""
    home = tmp_path_factory.mktemp("prefect-services")
    try:
        with prefect_server_process(home, services=True, extra_env=QUIET_SERVICES) as server:
            yield server
    except ServerStartError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    hook.thread.start()
    yield hook
    hook.server.shutdown()


@pytest.fixture
def services_api(services_server: PrefectServer) -> Iterator[str]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    reset_concurrency_services()
    with temporary_settings(updates={PREFECT_API_URL: services_server.api_url}):
        yield services_server.api_url
    reset_concurrency_services()


def alert_settings(webhook: Webhook, **values: Any) -> Settings:
    return Settings(_env_file=None, alert_webhook_url=webhook.url, **values)  # type: ignore[call-arg]


def automations() -> dict[str, Any]:
    from prefect.client.orchestration import get_client

    async def read() -> dict[str, Any]:
        async with get_client() as client:
            return {a.name: a for a in await client.read_automations()}

    return asyncio.run(read())


MAIL = {
    "alert_email_to": "ops@example.com",
    "smtp_yandex_host": "127.0.0.1",
    "smtp_yandex_port": 2525,
    "smtp_yandex_username": "robot@example.ru",
    "smtp_yandex_password": "app-password",
}


def test_bootstrap_creates_the_automations_once(services_api: str, webhook: Webhook) -> None:
    settings = alert_settings(webhook, alert_heartbeat_window_seconds=10, **MAIL)
    first = bootstrap(settings, pool_type="process", pool_name="alerts-tests")
    outcomes = {(a.kind, a.name): a.outcome for a in first.actions}
    assert outcomes[("notification_block", WEBHOOK_BLOCK_NAME)] in ("created", "unchanged")  # test order
    assert outcomes[("notification_block", EMAIL_BLOCK_NAME)] == "created"
    second = bootstrap(settings, pool_type="process", pool_name="alerts-tests")
    assert {a.outcome for a in second.actions} == {"unchanged"}, second.actions
    # A new mail password updates the email block in place, nothing else.
    rotated = bootstrap(
        alert_settings(
            webhook, alert_heartbeat_window_seconds=10, **(MAIL | {"smtp_yandex_password": "new"})
        ),
        pool_type="process",
        pool_name="alerts-tests",
    )
    assert [(a.name, a.outcome) for a in rotated.actions if a.outcome != "unchanged"] == [
        (EMAIL_BLOCK_NAME, "updated")
    ]

    found = automations()
    names = (FAILED_OR_CRASHED, HEARTBEAT_STOPPED, NIGHT_BACKLOG, BOUNCE_RATE, CAP_EARLY)
    assert set(names) <= set(found)
    crash = found[HEARTBEAT_STOPPED]
    assert crash.trigger.posture == "Proactive" and crash.trigger.after == {HEARTBEAT}
    assert crash.trigger.within.total_seconds() == 10
    assert [a.type for a in crash.actions] == ["change-flow-run-state"]
    assert crash.actions[0].state.value == "CRASHED"
    failed = found[FAILED_OR_CRASHED]
    assert {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"} <= failed.trigger.expect
    assert [a.type for a in failed.actions] == ["send-notification", "send-notification"]  # webhook, mail
    assert found[CAP_EARLY].trigger.expect == {EVENT_CAP_EARLY}

    # A changed setting updates the automation in place: same id, new window.
    wider = bootstrap(
        alert_settings(
            webhook, alert_heartbeat_window_seconds=20, **(MAIL | {"smtp_yandex_password": "new"})
        ),
        pool_type="process",
        pool_name="alerts-tests",
    )
    assert {(a.name, a.outcome) for a in wider.actions if a.outcome != "unchanged"} == {
        (HEARTBEAT_STOPPED, "updated")
    }
    again = automations()
    assert again[HEARTBEAT_STOPPED].id == crash.id
    assert again[HEARTBEAT_STOPPED].trigger.within.total_seconds() == 20
    # Back to 10 s and the webhook alone for the tests below: the automations drop the mail action.
    webhook_only = bootstrap(
        alert_settings(webhook, alert_heartbeat_window_seconds=10),
        pool_type="process",
        pool_name="alerts-tests",
    )
    assert {a.name for a in webhook_only.actions if a.outcome == "updated"} >= {
        FAILED_OR_CRASHED,
        HEARTBEAT_STOPPED,
    }
    assert len(automations()[FAILED_OR_CRASHED].actions) == 1


def test_a_failed_flow_run_notifies_the_webhook(services_api: str, webhook: Webhook) -> None:
    from prefect import flow

    bootstrap(
        alert_settings(webhook, alert_heartbeat_window_seconds=10),
        pool_type="process",
        pool_name="alerts-tests",
    )

    @flow(name="alert-probe-fails")
    def fails() -> None:
        raise RuntimeError("probe failure 7f3a")

    state = fails(return_state=True)
    assert state.is_failed()
    ship_logs_and_events()
    body = webhook.wait_for(lambda b: "alert-probe-fails" in b.get("subject", ""), "for the failed run")
    assert "Failed" in body["subject"]
    assert "probe failure 7f3a" in body["body"]
    assert "None" not in body["body"]  # no PREFECT_UI_URL on this server: no link line at all


# A flow run in its own process: prints its id once running, then waits (its heartbeat thread beats meanwhile).
BEATING_FLOW = """
import sys, time
from prefect import flow
from prefect.runtime import flow_run

@flow(name="alert-probe-killed")
def beating() -> None:
    print(flow_run.id, flush=True)
    time.sleep(600)

beating()
"""


def heartbeats_of(api_url: str, run_id: str) -> int:
    """Heartbeat events the server has stored for the run (the event persister's table)."""
    import httpx

    query = {
        "filter": {
            "event": {"name": [HEARTBEAT]},
            "resource": {"id": [f"prefect.flow-run.{run_id}"]},
            "occurred": {"since": "2000-01-01T00:00:00Z"},
        },
        "limit": 5,
    }
    response = httpx.post(f"{api_url}/events/filter", json=query, timeout=10)
    response.raise_for_status()
    return len(response.json()["events"])


def test_a_killed_flow_run_is_crashed_and_notified(
    services_api: str, services_server: PrefectServer, webhook: Webhook
) -> None:
    """A real flow run process, SIGKILLed (as `docker kill` does to a flow-run container) after its first
    heartbeat reached the server: the run stays Running until the 10 s window passes, then the automation sets
    it Crashed and the failure automation notifies. Flow runs beat every 30 s at the least (Prefect's minimum),
    so the kill comes long before a second heartbeat."""
    from prefect.client.orchestration import get_client

    bootstrap(
        alert_settings(webhook, alert_heartbeat_window_seconds=10),
        pool_type="process",
        pool_name="alerts-tests",
    )
    env = services_server.env(PREFECT_FLOWS_HEARTBEAT_FREQUENCY="30")
    process = subprocess.Popen(
        [sys.executable, "-c", BEATING_FLOW],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        run_id = (process.stdout.readline() if process.stdout else "").strip()
        assert run_id, "the flow process ended before its run started"
        deadline = time.monotonic() + ALERT_DEADLINE
        while heartbeats_of(services_api, run_id) == 0:
            assert time.monotonic() < deadline, "no heartbeat of the flow run reached the server"
            time.sleep(0.5)
    finally:
        process.kill()
        process.wait()

    async def state_of() -> str:
        async with get_client() as client:
            return (await client.read_flow_run(uuid.UUID(run_id))).state_type.value  # type: ignore[union-attr]

    assert asyncio.run(state_of()) == "RUNNING"  # nothing else marks it: the process is simply gone
    body = webhook.wait_for(lambda b: "alert-probe-killed" in b.get("subject", ""), "for the killed run")
    assert "Crashed" in body["subject"] and "No heartbeat for 10 s" in body["body"]
    assert asyncio.run(state_of()) == "CRASHED"


def test_a_beating_run_is_left_alone(services_api: str, webhook: Webhook) -> None:
    """The negative control: a Running flow run whose heartbeats keep coming (every 2 s, for almost twice the
    10 s window plus the services' evaluation period) is not touched."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.events import Event
    from prefect.events.clients import get_events_client
    from prefect.states import Completed, Running

    bootstrap(
        alert_settings(webhook, alert_heartbeat_window_seconds=10),
        pool_type="process",
        pool_name="alerts-tests",
    )

    @flow(name="alert-probe-beating")
    def beating() -> None:  # never runs: only its flow run record is used
        pass

    async def beat_for(seconds: float) -> str:
        async with get_client() as client:
            run = await client.create_flow_run(beating)
            await client.set_flow_run_state(run.id, Running(), force=True)
            resource = {"prefect.resource.id": f"prefect.flow-run.{run.id}"}
            async with get_events_client() as events:
                until = time.monotonic() + seconds
                while time.monotonic() < until:
                    await events.emit(Event(event=HEARTBEAT, resource=resource))
                    await asyncio.sleep(2)  # real time: the server's trigger windows are real time
            state = (await client.read_flow_run(run.id)).state_type.value  # type: ignore[union-attr]
            await client.set_flow_run_state(run.id, Completed(), force=True)
            return state

    assert asyncio.run(beat_for(18)) == "RUNNING"


def test_an_alert_event_notifies_once_a_day(services_api: str, webhook: Webhook) -> None:
    from prefect import flow

    from tasks.alerts import emit_alert

    bootstrap(
        alert_settings(webhook, alert_heartbeat_window_seconds=10),
        pool_type="process",
        pool_name="alerts-tests",
    )
    first, second = date(2031, 1, 2), date(2031, 1, 3)

    def summary(day: date) -> str:
        return f"{day}: daily cap reached before noon (50 of OUTREACH_DAILY_CAP 50 used at 10:41)"

    @flow(name="alert-probe-cap")
    def cap_flow() -> None:
        emit_alert(EVENT_CAP_EARLY, first, summary(first), {"used": 50, "cap": 50})
        emit_alert(EVENT_CAP_EARLY, first, summary(first), {"used": 50, "cap": 50})  # a later run, same day
        emit_alert(EVENT_CAP_EARLY, second, summary(second), {"used": 50, "cap": 50})

    cap_flow()
    ship_logs_and_events()
    # The next day's notification comes after the first day's events were handled: a barrier, no sleep.
    body = webhook.wait_for(lambda b: summary(second) in b.get("body", ""), "for the second day")
    assert body["subject"] == f"leadgen alert: {EVENT_CAP_EARLY}"
    assert '"used": 50' in body["body"] or "'used': 50" in body["body"]
    assert sum(summary(first) in b.get("body", "") for b in webhook.bodies) == 1


def test_cli_lists_the_alerts_and_never_the_secrets(
    services_api: str, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from leadgen.cli import app

    monkeypatch.setenv("ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("ALERT_HEARTBEAT_WINDOW_SECONDS", "10")
    args = ["infra", "bootstrap", "--pool-type", "process", "--pool-name", "alerts-tests"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    result = CliRunner().invoke(app, args)  # the second run: everything in place
    assert result.exit_code == 0, result.output
    assert "s3cret" not in first.output
    assert re.search(rf"notification_block\s+{WEBHOOK_BLOCK_NAME}\s+unchanged\s+webhook", result.output)
    assert re.search(rf"automation\s+{re.escape(HEARTBEAT_STOPPED)}\s+unchanged\s+window 10 s", result.output)
    assert "s3cret" not in result.output and webhook.url not in result.output
