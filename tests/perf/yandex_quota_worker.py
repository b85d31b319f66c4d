"""One Yandex worker of the quota benchmark: `create_search` through the production client until a deadline.

`python -m tests.perf.yandex_quota_worker TAG`: prints `ready` once imported and connected, reads `START END`
(wall-clock times) from stdin, so the workers of one run start together whatever their imports cost, then creates
searches one after another through `tasks.search.yandex_client` (the in-process limiter and the Prefect global
limits) from START until END, and prints the
number it created, the grants its limiter took, the slots it dropped and the mean round trip of a grant. Settings come from the environment (the benchmark points them at the emulator and the server).
"""

from __future__ import annotations

import asyncio
import sys
import time

from leadgen.settings import Settings
from leadgen.yandex import SearchRequest
from tasks.search import yandex_client


async def drive(tag: str) -> str:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    created = 0
    async with yandex_client(settings) as client:
        print("ready", flush=True)
        start, end = (float(x) for x in sys.stdin.readline().split())
        await asyncio.sleep(max(0.0, start - time.time()))
        while time.time() < end:
            await client.create_search(SearchRequest(f"окна {tag} {created}", region="213"))
            created += 1
        limiter = client.limiter
    grants = getattr(limiter, "grants", 0)
    rtt = getattr(limiter, "grant_seconds", 0.0) / max(grants, 1)
    return f"created {created} grants {grants} dropped {getattr(limiter, 'dropped', 0)} grant_rtt_ms {rtt * 1000:.1f}"


if __name__ == "__main__":
    print(asyncio.run(drive(sys.argv[1])))
