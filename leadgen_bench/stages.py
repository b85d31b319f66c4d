"""The month run's steps as direct calls of the stage functions (what the Prefect tasks call, minus Prefect)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from leadgen.companies import dedupe_companies
from leadgen.contacts import enrich_companies
from leadgen.db.engine import write_scope
from leadgen.outreach import draft_messages, queue_messages, send_queued
from leadgen.outreach.composer import FallbackComposer
from leadgen.serp.collect import make_collector
from leadgen.yandex import YandexClient
from leadgen.yandex.rounds import run_night
from leadgen_bench.context import StageContext
from leadgen_bench.sandbox import SandboxMx

# Queries submitted and operations polled per round of the night (what the flows' run is given too).
NIGHT_LIMIT = 1000


class VirtualTime:
    """The crawler's politeness clock in a month run: sleeping moves it, nothing else does (no real sleep, and
    the pipeline's simulated time stays where it is)."""

    def __init__(self) -> None:
        self.now = 0.0

    async def sleep(self, seconds: float) -> None:
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


class DirectStages:
    """Stage functions called in-process; crawl politeness delays pass on a virtual clock (no real sleep)."""

    def __init__(self, ctx: StageContext, client: YandexClient) -> None:
        self.ctx = ctx
        self.client = client
        self.on_done = make_collector(ctx.settings, ctx.engine, now=ctx.clock)  # as tasks/search.py does
        self.resolver = SandboxMx()
        self.composer = FallbackComposer()
        self.politeness = VirtualTime()

    @classmethod
    @asynccontextmanager
    async def open(cls, ctx: StageContext) -> AsyncIterator[DirectStages]:
        clock = ctx.clock
        async with YandexClient.from_settings(ctx.settings, clock=clock, sleep=clock.async_sleep) as client:
            yield cls(ctx, client)

    async def new_day(self) -> None:
        """Nothing to reset: the direct calls take no rate-limit slots."""

    async def night(self, until: datetime) -> None:
        ctx = self.ctx
        with ctx.timer.stage("search + collect + ingest"):
            await run_night(
                ctx.engine,
                self.client,
                ctx.settings,
                now=ctx.clock,
                sleep=ctx.clock.async_sleep,
                until=until,
                on_done=self.on_done,
                step_seconds=ctx.config.night_step_minutes * 60,
                limit=NIGHT_LIMIT,
            )

    async def morning(self) -> None:
        ctx = self.ctx
        with ctx.timer.stage("dedupe"), write_scope(ctx.engine) as session:
            dedupe_companies(session, ctx.settings, now=ctx.clock)
        with ctx.timer.stage("enrich"):
            while True:
                report = await enrich_companies(
                    ctx.engine,
                    ctx.settings,
                    limit=500,
                    now=ctx.clock,
                    sleep=self.politeness.sleep,
                    monotonic=self.politeness.monotonic,
                )
                if report.claimed == 0:
                    break

    async def working_day(self) -> tuple[int, int]:
        ctx = self.ctx
        cap, now = ctx.config.daily_cap, ctx.clock()
        with ctx.timer.stage("draft+queue"):
            draft_messages(
                ctx.engine, ctx.settings, limit=2 * cap, now=now, composer=self.composer, offer=ctx.offer
            )
            queue_messages(
                ctx.engine, ctx.settings, limit=2 * cap, now=now, resolver=self.resolver, offer=ctx.offer
            )
        with ctx.timer.stage("send"):
            sent = send_queued(
                ctx.engine,
                ctx.settings,
                limit=2 * cap,
                now=now,
                sleep=lambda _s: None,  # spacing advances the send's own clock, not the wall
                resolver=self.resolver,
                offer=ctx.offer,
            )
        return sent.sent, len(sent.errors)
