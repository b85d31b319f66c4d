"""The alert automations (issues 18, 23): what each watches, what it does, and how bootstrap keeps them in place.

- `leadgen: flow run failed or crashed`: any flow run entering Failed, TimedOut or Crashed notifies.
- `leadgen: crash runs whose heartbeats stopped`: a flow run that sent a `prefect.flow-run.heartbeat` and then
  neither another heartbeat nor a final state within ALERT_HEARTBEAT_WINDOW_SECONDS is set Crashed, which in
  turn notifies through the first automation. Flow runs send a heartbeat every PREFECT_FLOWS_HEARTBEAT_FREQUENCY
  seconds (60 in prefect.yaml and docker-compose.yml; Prefect's default is 180).
- `leadgen: night ended with queries past the SLA`, `leadgen: bounce rate over threshold`, `leadgen: daily cap
  reached before noon`: the events tasks/alerts.py emits (leadgen/alerts.py names them), at most one
  notification per alert and day (the trigger buckets by the event's per-day resource id for 24 hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState, SendNotification
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

from infra.notifications import NotificationSpec, ensure_block, notification_specs
from leadgen.alerts import EVENT_BOUNCE_RATE, EVENT_CAP_EARLY, EVENT_NIGHT_BACKLOG
from leadgen.settings import Settings

PREFIX = "leadgen: "
FAILED_OR_CRASHED = PREFIX + "flow run failed or crashed"
HEARTBEAT_STOPPED = PREFIX + "crash runs whose heartbeats stopped"
NIGHT_BACKLOG = PREFIX + "night ended with queries past the SLA"
BOUNCE_RATE = PREFIX + "bounce rate over threshold"
CAP_EARLY = PREFIX + "daily cap reached before noon"

FLOW_RUN_FAILURES = {"prefect.flow-run.Failed", "prefect.flow-run.TimedOut", "prefect.flow-run.Crashed"}
HEARTBEAT = "prefect.flow-run.heartbeat"
# A heartbeat is answered by the next heartbeat, or by any state in which a run legitimately stops beating.
HEARTBEAT_ANSWERS = {
    HEARTBEAT,
    *(
        f"prefect.flow-run.{name}"
        for name in (
            "Completed",
            "Failed",
            "TimedOut",
            "Crashed",
            "Cancelled",
            "Cancelling",
            "Paused",
            "Suspended",
            "Scheduled",
            "AwaitingRetry",
            "Late",
        )
    ),
}
ONCE_A_DAY = timedelta(days=1)

FAILURE_SUBJECT = "leadgen: flow run {{ flow.name }}/{{ flow_run.name }} is {{ flow_run.state.name }}"
FAILURE_BODY = (
    "Flow run {{ flow_run.name }} of flow {{ flow.name }} entered {{ flow_run.state.name }} "
    "at {{ flow_run.state.timestamp }}: {{ flow_run.state.message }}"
    "{% if flow_run|ui_url %}\nRun: {{ flow_run|ui_url }}{% endif %}"
)
EVENT_SUBJECT = "leadgen alert: {{ event.event }}"
EVENT_BODY = "{{ event.payload.summary }}\nFigures: {{ event.payload }}{% if event|ui_url %}\nEvent: {{ event|ui_url }}{% endif %}"


def _notify(block_ids: list[UUID], subject: str, body: str) -> list[Any]:
    return [SendNotification(block_document_id=bid, subject=subject, body=body) for bid in block_ids]


def _daily_event_trigger(event: str) -> EventTrigger:
    """Fires on the first `event` of a resource (one per alert and day), then not again for that resource for
    24 hours."""
    return EventTrigger(
        expect={event},
        match={"prefect.resource.id": "leadgen.*"},
        for_each={"prefect.resource.id"},
        posture=Posture.Reactive,
        threshold=1,
        within=ONCE_A_DAY,
    )


def heartbeat_trigger(window_seconds: int) -> EventTrigger:
    """Proactive: after a run's heartbeat, expect another one (or a final state) within the window."""
    return EventTrigger(
        after={HEARTBEAT},
        expect=set(HEARTBEAT_ANSWERS),
        match={"prefect.resource.id": "prefect.flow-run.*"},
        for_each={"prefect.resource.id"},
        posture=Posture.Proactive,
        threshold=1,
        within=timedelta(seconds=window_seconds),
    )


def crash_automation(settings: Settings) -> AutomationCore:
    """Issue 23: a run whose heartbeats stop is set Crashed (never forced over a final state)."""
    window = settings.alert_heartbeat_window_seconds
    return AutomationCore(
        name=HEARTBEAT_STOPPED,
        description=(
            f"A running flow run with no heartbeat for {window} s (ALERT_HEARTBEAT_WINDOW_SECONDS) is marked "
            "Crashed: its process or container died. Created by `leadgen infra bootstrap`."
        ),
        enabled=True,
        trigger=heartbeat_trigger(window),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                name="Crashed",
                message=f"No heartbeat for {window} s: the flow run's process or container is gone.",
                force=False,  # a run that reached a final state meanwhile keeps it
            )
        ],
    )


def notify_automations(settings: Settings, block_ids: list[UUID]) -> list[AutomationCore]:
    """The four notifying automations, each sending through every block in `block_ids`."""
    failed = AutomationCore(
        name=FAILED_OR_CRASHED,
        description="Any flow run entering Failed, TimedOut or Crashed. Created by `leadgen infra bootstrap`.",
        enabled=True,
        trigger=EventTrigger(
            expect=set(FLOW_RUN_FAILURES),
            match={"prefect.resource.id": "prefect.flow-run.*"},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=_notify(block_ids, FAILURE_SUBJECT, FAILURE_BODY),
    )
    described = {
        NIGHT_BACKLOG: (
            EVENT_NIGHT_BACKLOG,
            f"A night ended with queries or operations pending past the "
            f"{settings.yandex_operation_sla_hours:g} h SLA (YANDEX_OPERATION_SLA_HOURS).",
        ),
        BOUNCE_RATE: (
            EVENT_BOUNCE_RATE,
            f"A day's bounce rate passed {settings.alert_bounce_rate_threshold:.1%} "
            f"(ALERT_BOUNCE_RATE_THRESHOLD, from {settings.alert_bounce_min_sent} messages sent).",
        ),
        CAP_EARLY: (
            EVENT_CAP_EARLY,
            f"OUTREACH_DAILY_CAP ({settings.outreach_daily_cap}) used up before 12:00 {settings.app_timezone}.",
        ),
    }
    events = [
        AutomationCore(
            name=name,
            description=f"{text} At most once a day. Created by `leadgen infra bootstrap`.",
            enabled=True,
            trigger=_daily_event_trigger(event),
            actions=_notify(block_ids, EVENT_SUBJECT, EVENT_BODY),
        )
        for name, (event, text) in described.items()
    ]
    return [failed, *events]


def _comparable(automation: AutomationCore) -> dict[str, Any]:
    core = AutomationCore.model_validate(automation.model_dump(include=set(AutomationCore.model_fields)))
    return core.model_dump(mode="python")


async def ensure_automation(client: PrefectClient, desired: AutomationCore) -> str:
    """Create the automation named `desired.name`, or update it in place when it differs; the outcome."""
    existing = await client.read_automations_by_name(desired.name)
    if not existing:
        await client.create_automation(desired)
        return "created"
    first, *extra = existing
    for duplicate in extra:  # e.g. two bootstraps racing; one automation per name is the rule
        await client.delete_automation(duplicate.id)
    if _comparable(first) == _comparable(desired) and not extra:
        return "unchanged"
    await client.update_automation(first.id, desired)
    return "updated"


@dataclass(frozen=True, slots=True)
class AlertPlan:
    """The notification blocks and the automations bootstrap keeps in place for these settings."""

    settings: Settings
    notifications: tuple[NotificationSpec, ...]

    @property
    def crash(self) -> AutomationCore:
        return crash_automation(self.settings)

    def notifying(self, block_ids: list[UUID]) -> list[AutomationCore]:
        return notify_automations(self.settings, block_ids)


def alert_plan(settings: Settings) -> AlertPlan:
    """What ALERT_* (and the SLA, cap and time zone they watch) ask for."""
    return AlertPlan(settings=settings, notifications=notification_specs(settings))


AlertOutcome = tuple[str, str, str, str]  # kind, name, outcome, detail (a BootstrapAction's fields)


async def ensure_alerts(client: PrefectClient, plan: AlertPlan) -> list[AlertOutcome]:
    """Blocks first (the automations name their ids), then the crash automation, then the notifying ones."""
    outcomes: list[AlertOutcome] = []
    block_ids: list[UUID] = []
    for spec in plan.notifications:
        outcome, block_id = await ensure_block(client, spec)
        block_ids.append(block_id)  # type: ignore[arg-type]
        outcomes.append(("notification_block", spec.name, outcome, f"{spec.kind} ({spec.block_type})"))
    crash = plan.crash
    window = plan.settings.alert_heartbeat_window_seconds
    outcomes.append(("automation", crash.name, await ensure_automation(client, crash), f"window {window} s"))
    for automation in plan.notifying(block_ids):
        if not block_ids:
            outcomes.append(
                ("automation", automation.name, "skipped", "set ALERT_WEBHOOK_URL or ALERT_EMAIL_TO")
            )
            continue
        detail = " + ".join(spec.kind for spec in plan.notifications)
        outcomes.append(("automation", automation.name, await ensure_automation(client, automation), detail))
    return outcomes
