"""outreach flow: draft, queue, and send inside the send window under the daily cap (crashed sends recovered first)."""

from __future__ import annotations

from typing import Any

from prefect import State, flow, get_run_logger
from prefect.states import Completed

from flows.artifacts import apublish, counts, error_rows, flat_table
from flows.journal import journaled
from flows.params import OutreachParams
from flows.runtime import avariable_int, task_runner
from flows.sentences import draft_line, queue_line, send_line
from infra.plan import VAR_SEND_LIMIT
from tasks.alerts import daily_cap_alert_task
from tasks.funnel_exports import outbox_task
from tasks.outreach import draft_task, queue_task, send_task
from tasks.runtime import load_settings


@flow(name="outreach", task_runner=task_runner())
@journaled("outreach")
async def outreach_flow(params: OutreachParams = OutreachParams()) -> dict[str, Any] | State:
    """Draft and queue messages, then send up to `send_limit` under the `email-daily` limit.

    Async (its tasks are sync and run one after another) so the run ends without waiting on the heartbeat
    thread a sync flow joins: about a second per run, and this flow runs every ten minutes of the send window.
    A send that stopped early with messages still due (the cap, no `email-daily` slot in time, a route down)
    ends Completed with a message saying so, in the artifact and the state, never silently. With `batch_tag`,
    only companies of that batch are drafted for and only their messages queued, recovered and sent.
    """
    logger = get_run_logger()
    settings = load_settings()
    tag = params.batch_tag
    drafted = draft_task(params.draft_limit, tag) if params.draft_limit else {}
    queued = queue_task(max(params.draft_limit, settings.prefect_batch_size), tag)
    send_limit = (
        params.send_limit
        if params.send_limit is not None
        else await avariable_int(VAR_SEND_LIMIT, settings.outreach_daily_cap)
    )
    sent = send_task(send_limit, params.dry_run, tag) if send_limit else {}
    outbox = outbox_task()
    result = {
        "recovered_unknown": sent.get("recovered_unknown", 0),
        "drafted": drafted.get("drafted", 0),
        "queued": queued.get("queued", 0),
        "sent": sent.get("sent", 0),
        "send": counts(sent),
        "send_errors": len(sent.get("errors") or []),
        "outbox": outbox,
    }
    # Emits `leadgen.daily-cap.reached-early` when today's cap is used up before noon.
    cap = daily_cap_alert_task() if sent and not params.dry_run else None
    early = stopped_early(sent)
    lines = outreach_lines(params, drafted, queued, sent, outbox, cap) + ([early] if early else [])
    await apublish(
        "outreach",
        "Outreach",
        lines=lines,
        stats=counts(result) | {f"outbox_{k}": v for k, v in outbox.items()},
        table=flat_table(
            [
                {"step": "draft", **counts(drafted)},
                {"step": "queue", **counts(queued)},
                {"step": "send", **counts(sent)},
            ]
        ),
        errors=(
            error_rows(drafted, stage="draft")
            + error_rows(queued, stage="queue")
            + error_rows(sent, stage="send")
        ),
    )
    logger.info("; ".join(lines))
    if early:
        logger.warning(early)
        return Completed(message=early, data=result)
    return result


def outreach_lines(
    params: OutreachParams,
    drafted: dict[str, Any],
    queued: dict[str, Any],
    sent: dict[str, Any],
    outbox: dict[str, Any],
    cap: dict[str, Any] | None,
) -> list[str]:
    """The run in sentences: recovery, draft, queue, send, the outbox; the window, routes down, an early cap."""
    lines = [
        f"{sent.get('recovered_unknown', 0)} rows left in `sending` by a crash marked `unknown`, "
        f"{sent.get('recovered_requeued', 0)} requeued (crashed before DATA)",
        draft_line(drafted),
        queue_line(queued),
        send_line(sent, dry_run=params.dry_run),
        f"outbox now: {outbox['queued']} queued, {outbox['sending']} in `sending`, {outbox['unknown']} "
        f"`unknown` (in doubt), {outbox['settled']} settled by evidence",
    ]
    if params.batch_tag:
        lines.insert(0, f"batch {params.batch_tag}")
    if sent and not sent.get("window_open", True):
        lines.append(f"outside the send window; next opens {sent.get('next_window_start')}")
    lines.extend(f"route down: {line}" for line in sent.get("routes_down") or [])
    if cap is not None and cap["alerted"]:
        lines.append(
            f"daily cap reached before noon: {cap['used']} of {cap['cap']} used at {cap['at'][11:16]}"
        )
    return lines


def stopped_early(sent: dict[str, Any]) -> str | None:
    """ "stopped early: <why>; N messages due left" when the send left due messages, else None."""
    left, why = int(sent.get("due_left") or 0), sent.get("stopped_reason")
    if not left or not why or not sent.get("window_open", True):
        return None  # nothing left, or only the run's own send limit stopped it
    return f"stopped early: {why}; {left} messages due left for a later run"
