"""MX lookups as a cached task: one DNS question per domain while its answer's TTL lasts, shared by every run.

The record holds the domain's MX hosts, their TTL and when they were looked up: public DNS data, no address.
Prefect expires a record after ROUTING_MX_CACHE_TTL_SECONDS; a record whose own (shorter) TTL has passed on the
task clock is looked up again with `refresh_cache`, so an answer is never used past its DNS TTL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prefect import task

from leadgen.outreach.router import DnsMxResolver, MxAnswer, MxResolver, cache_ttl
from leadgen.settings import Settings
from tasks import runtime
from tasks.cache import cache_key, committed_at_once, storage_path


def dns_resolver(settings: Settings) -> MxResolver:
    return DnsMxResolver(timeout=settings.routing_dns_timeout_seconds)


# The resolver behind the task; tests replace it with a StaticMxResolver (there is no DNS in the test network).
new_resolver: Callable[[Settings], MxResolver] = dns_resolver


def _given_key(_context: Any, parameters: dict[str, Any]) -> str:
    return str(parameters["key"])


@task(
    name="mx-lookup",
    task_run_name="mx-lookup {domain}",
    cache_key_fn=_given_key,
    persist_result=True,
    result_serializer="json",
)
def mx_lookup_task(domain: str, key: str, max_ttl: float) -> dict[str, Any]:
    """The MX answer for `domain` with the seconds it stays valid and when it was looked up (task clock)."""
    answer = new_resolver(runtime.load_settings()).resolve_mx(domain)
    return {
        "hosts": list(answer.hosts),
        "ttl": cache_ttl(answer, max_ttl),
        "error": answer.error,
        "looked_up_at": runtime.now().isoformat(),
    }


class CachedMxResolver:
    """An MxResolver answering from `mx-lookup` (the router's in-process TTL cache stays in front of it)."""

    def __init__(self, settings: Settings) -> None:
        self.max_ttl = float(settings.routing_mx_cache_ttl_seconds)
        self._task = mx_lookup_task.with_options(
            result_storage=storage_path(settings), cache_expiration=timedelta(seconds=self.max_ttl)
        )

    def resolve_mx(self, domain: str, /) -> MxAnswer:
        domain = domain.lower().rstrip(".")
        key = cache_key("mx", hashlib.sha256(domain.encode()).hexdigest()[:32])
        with committed_at_once():
            record = self._task(domain=domain, key=key, max_ttl=self.max_ttl)
        left = _seconds_left(record)
        if left <= 0:  # past its own TTL: ask DNS again and overwrite the record
            with committed_at_once():
                record = self._task.with_options(refresh_cache=True)(
                    domain=domain, key=key, max_ttl=self.max_ttl
                )
            left = _seconds_left(record)
        return MxAnswer(tuple(record["hosts"]), ttl=max(left, 0.0), error=record["error"])


def _seconds_left(record: dict[str, Any]) -> float:
    looked_up = datetime.fromisoformat(record["looked_up_at"])
    return float(record["ttl"]) - (runtime.now() - looked_up).total_seconds()


def mx_resolver(settings: Settings) -> MxResolver | None:
    """The resolver of the queue and send tasks: cached DNS when MX lookups are on, else None (lookups off)."""
    if not settings.routing_mx_lookup:
        return None
    if settings.routing_mx_cache_ttl_seconds <= 0:
        return new_resolver(settings)
    return CachedMxResolver(settings)
