"""A grant of a few seconds' worth of fleet-wide Yandex slots, and when each of its slots may be spent."""

from __future__ import annotations

from dataclasses import dataclass, field

MICROS = 1_000_000


@dataclass(slots=True)
class Grant:
    """`size` slots taken in one request sent at `asked_at` and answered at `received_at` (microseconds, one clock),
    to be spent one every `spacing` microseconds at most ((1 s + arrival jitter) / YANDEX_RPS).

    The fleet-wide limit holds `size` slots and frees them all `size * spacing + margin` after they were taken, and
    every worker takes all of them at once, so two grants are at least that far apart on the server. The next
    grant's i-th request comes no earlier than `i * spacing` after it was taken, so this grant's r-th last request
    must go out by `asked_at + margin + (size - r) * spacing` for each to leave at least YANDEX_RPS * spacing
    (a second plus the arrival jitter) after the request YANDEX_RPS places before it; inside a grant the worker's
    own sliding window (`QuotaLimiter`, with the same period) keeps that. So the fleet never passes YANDEX_RPS in
    any one-second window. A request later than that gives up the grant's last
    slots (`budget` shrinks; never a request sent late). `margin` None: the limit frees faster than the slots are
    spent (no ceiling to keep, e.g. a benchmark's fast decay): every slot is spent, at the same spacing.
    """

    size: int
    spacing: int
    asked_at: int
    received_at: int
    margin: int | None
    used: int = 0
    budget: int = field(default=-1)

    def __post_init__(self) -> None:
        if self.budget < 0:
            self.budget = self.size

    @property
    def dropped(self) -> int:
        """Slots given up so far because requests came too late to spend them."""
        return self.size - self.budget

    def wait(self, now: int) -> int | None:
        """Microseconds until a request may go (0: now, as the next slot), or None when the grant is spent."""
        if self.used >= self.budget:
            return None
        start = self.received_at + self.used * self.spacing
        if now < start:
            return start - now
        if self.margin is not None:  # sent now, the r-th last request of the grant must leave by its deadline
            late = now - self.asked_at - self.margin
            if late > 0:
                self.budget = min(self.budget, self.size + self.used - -(-late // self.spacing))
        return 0 if self.used < self.budget else None

    def spend(self) -> None:
        """Spend the slot `wait` just returned 0 for."""
        self.used += 1


def grant_margin(size: int, decay_per_second: float, spacing: int) -> int | None:
    """The margin (microseconds) between spending a grant of `size` slots one every `spacing` microseconds and the
    limit freeing them at `decay_per_second`; None when it frees them faster."""
    if decay_per_second <= 0 or spacing <= 0:
        raise ValueError("a rate limit needs a positive slot decay and spacing")
    margin = round(size / decay_per_second * MICROS) - size * spacing
    return margin if margin > 0 else None
