"""Run a worker function in several threads at once and surface what any of them raised."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_in_threads(worker: Callable[[], None], *, count: int = 2, timeout: float = 60.0) -> None:
    """Start `count` threads running `worker`, wait for all, then re-raise the first exception one of them raised."""
    failures: list[BaseException] = []

    def guarded() -> None:
        try:
            worker()
        except BaseException as exc:  # re-raised in the calling thread below
            failures.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), f"a worker thread ran past {timeout} s"
    if failures:
        raise failures[0]
