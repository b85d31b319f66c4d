"""What a month run hands to the code that runs its steps: settings, engine, clock, offer, a stage timer."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine

from leadgen.clock import ManualClock
from leadgen.outreach.offer import OfferBrief
from leadgen.settings import Settings
from leadgen_bench.config import MonthConfig


class StageTimer:
    """Wall time per named stage, accumulated over the run (and the run's own start)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t0


@dataclass(frozen=True, slots=True)
class StageContext:
    """The run's shared state: the sandbox settings, the database, the simulated clock, the offer, the timer."""

    config: MonthConfig
    settings: Settings
    engine: Engine
    clock: ManualClock
    offer: OfferBrief
    timer: StageTimer


class Stages(Protocol):
    """The pipeline's steps as a month run calls them; each runs at the clock's current simulated time."""

    async def new_day(self) -> None:
        """Before the night, untimed: what the hours between two simulated days would do (free rate-limit slots)."""

    async def night(self, until: datetime) -> None:
        """Search in rounds (submit due queries, collect and ingest finished operations) until `until`."""

    async def morning(self) -> None:
        """Dedupe companies, then enrich every new one (may be part of `night`: then it does nothing)."""

    async def working_day(self) -> tuple[int, int]:
        """Draft, queue and send under the cap; returns (emails sent, send errors)."""


StagesFactory = Callable[[StageContext], AbstractAsyncContextManager[Stages]]
