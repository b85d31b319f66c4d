"""Alert tasks: compute a stage's alert figures and emit a Prefect event when a condition holds (never cached)."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from leadgen.alerts import (
    EVENT_BOUNCE_RATE,
    EVENT_CAP_EARLY,
    EVENT_NIGHT_BACKLOG,
    cap_morning,
    night_backlog,
    recent_bounce_days,
    resource_id,
)
from leadgen.db.engine import read_scope
from leadgen.outreach.daily_cap import day_bounds, used_today
from tasks import runtime
from tasks.policy import retry_options
from tasks.runtime import jsonable, load_settings, open_engine


def emit_alert(event: str, day: date, summary: str, figures: dict[str, Any]) -> None:
    """One alert event: resource `leadgen.<subject>.<day>`, the figures and a sentence in the payload."""
    emit_event(
        event=event,
        resource={"prefect.resource.id": resource_id(event, day), "prefect.resource.name": summary[:200]},
        payload={"summary": summary, **jsonable(figures)},
    )
    get_run_logger().warning("alert %s: %s", event, summary)


@task(name="night-backlog-alert", cache_policy=NO_CACHE, **retry_options())
def night_backlog_alert_task() -> dict[str, Any]:
    """At the end of a night: queries and operations pending past YANDEX_OPERATION_SLA_HOURS; event if any."""
    settings = load_settings()
    with open_engine(settings) as engine, read_scope(engine) as session:
        backlog = night_backlog(session, settings, now=runtime.now())
    figures = dict(jsonable(backlog))
    if backlog.breached:
        emit_alert(EVENT_NIGHT_BACKLOG, backlog.night, backlog.sentence(), figures)
    return {**figures, "alerted": backlog.breached}


@task(name="bounce-rate-alert", cache_policy=NO_CACHE, **retry_options())
def bounce_rate_alert_task() -> dict[str, Any]:
    """After a mailbox sync: yesterday's and today's bounce rates; an event for each above the threshold."""
    settings = load_settings()
    with open_engine(settings) as engine, read_scope(engine) as session:
        days = recent_bounce_days(session, settings, now=runtime.now())
    for day in days:
        if day.exceeded:
            figures = {**jsonable(day), "rate": round(day.rate, 4)}
            emit_alert(EVENT_BOUNCE_RATE, day.day, day.sentence(), figures)
    return {"days": [{**jsonable(d), "rate": round(d.rate, 4), "alerted": d.exceeded} for d in days]}


@task(name="daily-cap-alert", cache_policy=NO_CACHE, **retry_options())
def daily_cap_alert_task() -> dict[str, Any]:
    """After a send: whether today's OUTREACH_DAILY_CAP is used up before noon (APP_TIMEZONE); event if so."""
    settings = load_settings()
    now = runtime.now()
    start, end = day_bounds(now, settings)
    with open_engine(settings) as engine, read_scope(engine) as session:
        used = used_today(session, start, end)
    check = cap_morning(used, settings, now=now)
    figures = dict(jsonable(check))
    if check.reached_early:
        emit_alert(EVENT_CAP_EARLY, check.day, check.sentence(), figures)
    return {**figures, "alerted": check.reached_early}
