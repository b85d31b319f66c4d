"""mailbox_sync flow: read every configured route's IMAP mailbox, classify new mail and apply its effects."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.artifacts import error_rows, publish
from flows.journal import journaled
from flows.params import MailboxSyncParams
from flows.runtime import task_runner
from leadgen.errors import MailboxError
from leadgen.mailbox.sync import ROUTES, configured_routes
from tasks.alerts import bounce_rate_alert_task
from tasks.mailbox import settle_task, sync_mailbox_task
from tasks.runtime import load_settings

KINDS = ("hard_bounce", "soft_bounce", "auto_reply", "reply", "unsubscribe", "other")


@flow(name="mailbox-sync", task_runner=task_runner())
@journaled("mailbox-sync")
def mailbox_sync_flow(params: MailboxSyncParams = MailboxSyncParams()) -> dict[str, Any]:
    """Sync each mailbox in turn and publish what was read; the run fails (after publishing) when a mailbox
    could not be read to the end, so the failure automations notify."""
    logger = get_run_logger()
    settings = load_settings()
    wanted = [params.route] if params.route else [route.name for route in configured_routes(settings)]
    routes = [name for name in ROUTES if name in wanted]  # as RouteName, in ROUTES order
    if not routes:
        line = "no IMAP mailbox is configured (IMAP_<ROUTE>_HOST, _USERNAME, _PASSWORD): nothing read"
        publish("mailbox-sync", "Mailbox sync", lines=[line])
        logger.warning(line)
        return {"routes": [], "read": 0}
    reports: list[dict[str, Any]] = []
    for route in routes:
        try:
            reports.append(sync_mailbox_task(route))
        except MailboxError as exc:  # after the task's retries: record it, read the other mailboxes
            failure = {"item": "route", "reason": str(exc), "id": route}
            reports.append(
                {"route": route, "read": 0, "kinds": {}, "matched": 0, "error": str(exc), "errors": [failure]}
            )
    table = [
        {
            "route": r["route"],
            "read": r.get("read", 0),
            **{kind: (r.get("kinds") or {}).get(kind, 0) for kind in KINDS},
            "matched": r.get("matched", 0),
            "suppressed": r.get("suppressed", 0),
            "rescanned": r.get("rescanned", False),
            "error": r.get("error") or "",
        }
        for r in reports
    ]
    errors = [row for r in reports for row in error_rows(r, stage="mailbox")]
    settled = settle_task()  # after the bounces and replies: what they settled is no longer `unknown`
    counts = settled["counts"]
    lines = [_line(r) for r in reports] + [_settled_line(counts)]
    # Emits `leadgen.bounce-rate.exceeded` for yesterday or today when the bounce rate passes the threshold.
    bounces = bounce_rate_alert_task()
    lines.extend(
        f"{d['day']}: {d['bounced']} of {d['sent']} messages sent have bounced ({d['rate']:.1%})"
        + (" - over the alert threshold" if d["alerted"] else "")
        for d in bounces["days"]
        if d["sent"]
    )
    total = {
        "read": sum(int(r.get("read", 0)) for r in reports),
        "failed_routes": sum(1 for r in reports if r.get("error")),
        **{f"settled_{outcome}": n for outcome, n in counts.items()},
    }
    publish("mailbox-sync", "Mailbox sync", lines=lines, stats=total, table=table, errors=errors)
    logger.info("; ".join(lines))
    if failed := [f"{r['route']}: {r['error']}" for r in reports if r.get("error")]:
        raise MailboxError("; ".join(failed))
    return {"routes": reports, **total}


def _line(report: dict[str, Any]) -> str:
    kinds = ", ".join(f"{n} {k}" for k, n in sorted((report.get("kinds") or {}).items()) if n)
    text = f"{report['route']}: {report.get('read', 0)} messages read" + (f" ({kinds})" if kinds else "")
    if report.get("suppressed"):
        text += f"; {report['suppressed']} addresses suppressed"
    if report.get("rescanned"):
        text += "; UIDVALIDITY changed, folder read again"
    if report.get("error"):
        text += f"; stopped: {report['error']}"
    return text


def _settled_line(counts: dict[str, int]) -> str:
    return (
        f"unknown messages settled from sent folders: {counts['sent']} sent, {counts['requeued']} requeued; "
        f"{counts['waiting'] + counts['unknown']} still unknown"
    )
