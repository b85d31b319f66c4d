"""Send permits: the seam through which a rate limit (Prefect's `email-daily`, or none) paces the send loop."""

from __future__ import annotations

from typing import Protocol

# Why a send run stopped when its rate limit gave it no permit in time (the next run carries on).
NO_PERMIT = "no email-daily slot within the timeout"


class Permits(Protocol):
    """Slots that cover one SMTP conversation each; `send_queued` takes a few at a time (leadgen.outreach.
    permit_pool), spends one per claimed message and gives back what no conversation used."""

    def take(self, wanted: int, timeout: float) -> int:
        """Take up to `wanted` permits, waiting at most `timeout` seconds; the number taken (0: none in time)."""
        ...

    def give_back(self, count: int) -> None:
        """Return `count` permits taken but not used for a message (nothing when `count` <= 0)."""
        ...


class LocalPermits:
    """In-process permits for the CLI and tests: a pool of `capacity` (None: unlimited), never waiting."""

    def __init__(self, capacity: int | None = None) -> None:
        self.free = capacity
        self.taken = 0
        self.returned = 0

    def take(self, wanted: int, timeout: float) -> int:
        count = wanted if self.free is None else max(0, min(wanted, self.free))
        if self.free is not None:
            self.free -= count
        self.taken += count
        return count

    def give_back(self, count: int) -> None:
        if count <= 0:
            return
        if self.free is not None:
            self.free += count
        self.returned += count
