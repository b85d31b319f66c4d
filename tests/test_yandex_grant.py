"""A grant's slots: spacing, deadlines that give up the last slots, and the fleet ceiling in a simulated fleet."""

from __future__ import annotations

import bisect
import random

import pytest

from leadgen.yandex.grant import MICROS, Grant, grant_margin

MS = 1_000
SPACING = MICROS // 10  # 10 rps


def test_slots_are_spaced_from_the_answer_and_all_spent_on_time() -> None:
    grant = Grant(30, SPACING, asked_at=0, received_at=20 * MS, margin=140 * MS)
    assert grant.wait(20 * MS) == 0
    grant.spend()
    assert grant.wait(20 * MS) == SPACING  # the next slot 0.1 s after the first could go
    for i in range(1, 30):
        now = 20 * MS + i * SPACING
        assert grant.wait(now) == 0
        grant.spend()
    assert grant.wait(10 * MICROS) is None and grant.dropped == 0


def test_a_late_request_gives_up_the_last_slots_not_itself() -> None:
    grant = Grant(30, SPACING, asked_at=0, received_at=20 * MS, margin=140 * MS)
    # 0.36 s past the first slot's deadline (0.14 s): sent now, only 27 more requests may follow
    assert grant.wait(500 * MS) == 0
    assert grant.budget == 30 - 4 and grant.dropped == 4
    grant.spend()


def test_a_slot_request_slower_than_the_margin_costs_slots() -> None:
    grant = Grant(30, SPACING, asked_at=0, received_at=300 * MS, margin=140 * MS)
    assert grant.wait(300 * MS) == 0
    assert grant.dropped == 2


def test_margin_of_a_limit() -> None:
    # infra.plan: 100 slots (10 s of 10 rps) freed 10 x 1.05 + 0.15 s after they were taken, one every 105 ms
    assert grant_margin(100, 100 / 10.65, 105 * MS) == 150 * MS
    assert grant_margin(100, 1e6, 105 * MS) is None  # a benchmark's fast decay: no ceiling to keep
    with pytest.raises(ValueError):
        grant_margin(100, 0.0, 105 * MS)


def _fleet(seed: int, workers: int = 2, seconds: float = 60.0) -> list[float]:
    """Workers sharing a simulated limit as infra.plan sets it (100 slots freed 10.65 s after a grant, spent one
    every 105 ms); random slot-request round trips, request durations and arrival latencies up to the 50 ms the
    spacing allows; returns the arrival times at the API."""
    rnd = random.Random(seed)
    size, spacing, period = 100, 105 * MS, 1.05
    free_after = 10.65
    margin = grant_margin(size, size / free_after, spacing)
    free_at, arrivals = 0.0, []
    clocks = [rnd.random() for _ in range(workers)]
    while min(clocks) < seconds:
        w = clocks.index(min(clocks))
        asked = max(clocks[w], free_at)
        granted = asked + rnd.uniform(0.0, 0.12)  # the server's write, somewhere inside the round trip
        received = granted + rnd.uniform(0.0, 0.12)
        free_at = granted + free_after
        grant = Grant(size, spacing, round(asked * MICROS), round(received * MICROS), margin)
        now, sent = received, []
        while (wait := grant.wait(round(now * MICROS))) is not None:
            if wait:
                now += wait / MICROS
                continue
            if len(sent) >= 10 and now - sent[-10] < period:  # the worker's own sliding window (QuotaLimiter)
                now = sent[-10] + period + 1e-6
                continue
            grant.spend()
            sent.append(now)
            arrivals.append(now + rnd.uniform(0.0, 0.05))
            now += rnd.choice([0.005, 0.02, 0.3])  # the request itself, sometimes slow
        clocks[w] = now
    return sorted(arrivals)


@pytest.mark.parametrize("seed", range(5))
def test_a_fleet_never_passes_the_rate_in_any_second(seed: int) -> None:
    arrivals = _fleet(seed)
    busiest = max(bisect.bisect_left(arrivals, t + 1.0) - i for i, t in enumerate(arrivals))
    assert busiest <= 10
    assert len(arrivals) > 300  # and most of the quota was used (60 s at 10 rps)
