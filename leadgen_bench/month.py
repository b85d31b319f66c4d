"""Month-volume run: plan, night searches, ingest, dedupe, enrich, draft and send for N simulated days.

Everything runs on loopback sandbox services (Yandex emulator, site farm, SMTP sink) with an injected
`ManualClock`: the month takes minutes of wall time, not a month. The stage functions are the ones the Prefect
tasks call; the report holds the seed's success metrics measured on the result.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import random
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from leadgen.clock import ManualClock
from leadgen.db import make_engine, migrate
from leadgen.db.engine import read_scope, write_scope
from leadgen.db.models import (
    Company,
    CompanyStatus,
    Contact,
    ContactKind,
    MessageStatus,
    OperationStatus,
    OutreachMessage,
    QueryStatus,
    SerpOperation,
    SerpQuery,
    SerpResult,
)
from leadgen.errors import ConfigurationError
from leadgen.outreach.offer import OfferBrief, parse_offer
from leadgen.planning import plan_batch, read_niches
from leadgen.settings import Settings
from leadgen_bench.config import CITIES, NICHES, MonthConfig
from leadgen_bench.context import StageContext, StagesFactory, StageTimer
from leadgen_bench.sandbox import inject_smtp_faults, site_farm
from leadgen_sandbox.smtp_sink import SmtpSink
from leadgen_sandbox.yandex_emulator import EmulatorConfig, YandexEmulator

MOSCOW = ZoneInfo("Europe/Moscow")
OFFER = {
    "offer": {
        "product": "CRM для малого бизнеса «ПланПро»",
        "benefit": (
            "ПланПро собирает заявки с сайта, почты и мессенджеров в одном окне и напоминает менеджерам о "
            "звонках, поэтому ни один клиент не теряется, а руководитель видит всю воронку продаж."
        ),
        "call_to_action": "Если интересно, ответьте на это письмо — пришлю короткую демонстрацию.",
        "facts": [],
    },
    "sender": {
        "name": "Анна Смирнова",
        "company": "ООО «ПланПро»",
        "email": "anna@planpro.example",
        "website": "https://planpro.example",
        "address": "123456, Москва, ул. Примерная, д. 1",
    },
    "unsubscribe": {"text": "Чтобы отписаться, ответьте словом «отписаться»."},
}


@dataclass(frozen=True, slots=True)
class MonthReport:
    """The figures of one month run (JSON-serialisable with dataclasses.asdict)."""

    days: int
    queries_planned: int
    queries_done: int
    queries_failed: int
    operations: int
    operations_past_sla: int
    serp_results: int
    serp_results_on_known_company: int
    serp_company_rows: int
    unique_companies: int
    duplicates_merged: int
    repeated_domain_rate: float
    repeated_sent_domain_rate: float
    companies_enriched: int
    companies_no_contacts: int
    companies_unreachable: int
    contacts_per_company: float
    emails_per_company: float
    messages_drafted: int
    sent: int
    failed: int
    positive_send_rate: float
    sink_count: int
    max_emails_per_day: int
    emails_per_day: list[int]
    wall_seconds: float
    peak_rss_mb: float
    farm_peak_rss_mb: float
    stage_seconds: dict[str, float] = field(default_factory=dict)


def _write_niches(path: Path, config: MonthConfig) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["niche", "city"])
        for niche in NICHES[: config.niches]:
            for city in CITIES[: config.cities]:
                writer.writerow([niche, city])


def _expected_queries(config: MonthConfig) -> int:
    return min(config.niches, len(NICHES)) * min(config.cities, len(CITIES)) * config.queries_per_niche


def _settings(config: MonthConfig, emulator: YandexEmulator, farm_proxy: str, sink: SmtpSink) -> Settings:
    workdir = config.workdir
    overrides: dict[str, Any] = {
        "database_url": config.database_url or f"sqlite:///{workdir / 'month.db'}",
        "data_dir": workdir / "data",
        **emulator.settings_overrides(auth="api_key"),
        "planning_max_queries_per_niche": config.queries_per_niche,
        # Spread the plan over the month's nights (leaving the last two to catch up), as a team would.
        "planning_spacing_seconds": int(
            8 * 3600 * max(config.days - 2, 1) / max(_expected_queries(config), 1)
        ),
        "crawl_proxy_url": farm_proxy,
        "crawl_timeout_seconds": config.crawl_timeout_seconds,
        "outreach_daily_cap": config.daily_cap,
        "outreach_send_weekdays": ["mon", "tue", "wed", "thu", "fri"],
        "outreach_unsubscribe_mailto": "unsubscribe@planpro.example",
        "outreach_dry_run_dir": workdir / "data" / "outbox",
        "routing_mx_lookup": False,
    }
    for route in ("yandex", "gmail"):
        overrides.update(sink.settings_env(route))
    return Settings(_env_file=None, **overrides)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MOSCOW).astimezone(UTC)


def run_month(
    config: MonthConfig,
    *,
    progress: Callable[[str], None] | None = None,
    stages: StagesFactory | None = None,
) -> MonthReport:
    """Run the month; `progress` gets one line per simulated day.

    `stages` runs the pipeline's steps (default: the stage functions called directly); the Prefect benchmark
    passes one that runs the same steps through the flows, to measure the orchestration's share of wall time.
    """
    if stages is None:
        try:
            from leadgen_bench.stages import DirectStages
        except ImportError as exc:  # a stage missing from this installation
            raise ConfigurationError(f"the month run needs every pipeline stage installed: {exc}") from exc
        stages = DirectStages.open

    say = progress or (lambda _line: None)
    config.workdir.mkdir(parents=True, exist_ok=True)
    wall0 = time.perf_counter()
    timer = StageTimer()
    clock = ManualClock(config.start)
    offer: OfferBrief = parse_offer(OFFER)
    emu_config = EmulatorConfig(clock=clock, time_to_done=300, seed=config.seed, rps=None, rph=None)
    with (
        YandexEmulator(emu_config) as emulator,
        site_farm(config) as farm_proxy,
        SmtpSink() as sink,
    ):
        settings = _settings(config, emulator, farm_proxy, sink)
        engine = make_engine(settings.database_url)
        migrate.upgrade(engine)
        niches_csv = config.workdir / "month_niches.csv"
        _write_niches(niches_csv, config)
        with timer.stage("plan"), write_scope(engine) as session:
            rows = read_niches(settings, str(niches_csv))
            plan = plan_batch(session, settings, rows, batch_tag="month", now=clock())
        say(f"planned {plan.inserted} queries, first {plan.first_scheduled_for}")
        per_day: list[int] = []
        ctx = StageContext(
            config=config, settings=settings, engine=engine, clock=clock, offer=offer, timer=timer
        )
        try:
            asyncio.run(_month(config, ctx, sink, stages, per_day, say))
        finally:
            report = _measure(engine, config, sink, per_day, timer, wall0)
            engine.dispose()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return dataclasses.replace(report, farm_peak_rss_mb=round(children, 1) if config.farm_process else 0.0)


async def _month(
    config: MonthConfig,
    ctx: StageContext,
    sink: SmtpSink,
    stages: StagesFactory,
    per_day: list[int],
    say: Callable[[str], None],
) -> None:
    rng = random.Random(config.seed)
    clock, timer = ctx.clock, ctx.timer
    async with stages(ctx) as runner:
        first = config.start.astimezone(MOSCOW).date()
        for day in range(config.days):
            today = first + timedelta(days=day)
            # Night: rounds of creating and collecting deferred operations every `night_step_minutes` from
            # 00:05 Moscow until nothing is left tonight or 08:00.
            clock.set(_at(today, 0, 5))
            await runner.new_day()
            with timer.stage("night (search + collect + ingest)"):
                await runner.night(_at(today, 8, 0))
            # Morning: dedupe, then crawl every new company.
            clock.set(_at(today, 8, 30))
            with timer.stage("morning (dedupe + enrich)"):
                await runner.morning()
            # Working day: draft, queue and send under the cap; spacing passes on the simulated clock.
            clock.set(_at(today, 10, 0))
            inject_smtp_faults(ctx.engine, sink, config, rng)
            with timer.stage("day (draft + queue + send)"):
                sent, errors = await runner.working_day()
            per_day.append(sent)
            say(
                f"day {day + 1:2d} {clock().astimezone(MOSCOW):%a %Y-%m-%d}: sent {sent}, "
                f"send errors {errors}, wall {time.perf_counter() - timer.t0:.0f} s"
            )


@dataclass(frozen=True, slots=True)
class _Tally:
    """What the database holds at the end of the run, read in one transaction."""

    queries: Counter[QueryStatus]
    operations: list[tuple[OperationStatus, datetime | None, datetime | None]]
    companies: list[tuple[CompanyStatus, str | None, str | None]]  # status, website URL, canonical domain
    contacts: Counter[ContactKind]
    with_contacts: int
    messages: Counter[MessageStatus]
    kept_results: list[int]  # company ids of the SERP results kept
    results_total: int
    sent_to: list[str]


def _tally(engine: Engine) -> _Tally:
    with read_scope(engine) as s:
        ops = s.execute(select(SerpOperation.status, SerpOperation.submitted_at, SerpOperation.done_at))
        companies = s.execute(select(Company.status, Company.website_url, Company.canonical_domain))
        kept_results = s.scalars(select(SerpResult.company_id).where(SerpResult.company_id.is_not(None)))
        sent_to = s.scalars(
            select(OutreachMessage.to_email).where(OutreachMessage.status == MessageStatus.SENT)
        )
        return _Tally(
            queries=Counter(s.scalars(select(SerpQuery.status))),
            operations=[(st, submitted, done) for st, submitted, done in ops],
            companies=[(st, url, domain) for st, url, domain in companies],
            contacts=Counter(s.scalars(select(Contact.kind))),
            with_contacts=s.scalar(select(func.count(func.distinct(Contact.company_id)))) or 0,
            messages=Counter(s.scalars(select(OutreachMessage.status))),
            kept_results=[company_id for company_id in kept_results if company_id is not None],
            results_total=s.scalar(select(func.count()).select_from(SerpResult)) or 0,
            sent_to=[email or "" for email in sent_to],
        )


def _repeats(domains: list[str]) -> int:
    """How many entries repeat a registrable domain already counted (empty ones left out)."""
    from leadgen.domains import canonical_domain

    registrable = Counter(canonical_domain(domain) for domain in domains)
    return sum(n - 1 for key, n in registrable.items() if key and n > 1)


def _past_sla(operations: list[tuple[OperationStatus, datetime | None, datetime | None]]) -> int:
    sla = timedelta(hours=12)
    return sum(
        1
        for st, submitted, done in operations
        if st == OperationStatus.EXPIRED
        or (done is not None and submitted is not None and done - submitted > sla)
    )


def _measure(engine: Engine, config: MonthConfig, sink: SmtpSink, per_day: list[int], timer: StageTimer, wall0: float) -> MonthReport:  # fmt: skip
    t = _tally(engine)
    kept = [(st, url, domain) for st, url, domain in t.companies if st != CompanyStatus.DUPLICATE]
    status = Counter(st for st, _url, _domain in kept)
    sent, messages = t.messages[MessageStatus.SENT], t.messages
    attempted = sent + messages[MessageStatus.FAILED] + messages[MessageStatus.UNKNOWN]
    repeated = _repeats([url or domain or "" for _st, url, domain in kept])
    repeated_sent = _repeats([email.rpartition("@")[2] for email in t.sent_to])
    return MonthReport(
        days=config.days,
        queries_planned=sum(t.queries.values()),
        queries_done=t.queries[QueryStatus.DONE],
        queries_failed=t.queries[QueryStatus.FAILED],
        operations=len(t.operations),
        operations_past_sla=_past_sla(t.operations),
        serp_results=t.results_total,
        serp_results_on_known_company=len(t.kept_results) - len(set(t.kept_results)),
        serp_company_rows=len(t.companies),
        unique_companies=len(kept),
        duplicates_merged=len(t.companies) - len(kept),
        repeated_domain_rate=round(repeated / len(kept), 5) if kept else 0.0,
        repeated_sent_domain_rate=round(repeated_sent / sent, 5) if sent else 0.0,
        companies_enriched=status[CompanyStatus.ENRICHED],
        companies_no_contacts=status[CompanyStatus.NO_CONTACTS],
        companies_unreachable=status[CompanyStatus.UNREACHABLE],
        contacts_per_company=round(sum(t.contacts.values()) / max(t.with_contacts, 1), 2),
        emails_per_company=round(t.contacts[ContactKind.EMAIL] / max(t.with_contacts, 1), 2),
        messages_drafted=sum(messages.values()),
        sent=sent,
        failed=messages[MessageStatus.FAILED],
        positive_send_rate=round(sent / attempted, 4) if attempted else 0.0,
        sink_count=sink.count,
        max_emails_per_day=max(per_day, default=0),
        emails_per_day=per_day,
        wall_seconds=round(time.perf_counter() - wall0, 1),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        farm_peak_rss_mb=0.0,  # filled in once the farm process has exited
        stage_seconds={k: round(v, 2) for k, v in timer.seconds.items()},
    )
