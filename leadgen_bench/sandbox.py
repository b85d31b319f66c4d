"""Sandbox pieces of the month run: MX answers, the site farm in its own process, SMTP faults at rates."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, select

from leadgen.db.engine import read_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.outreach.router import MxAnswer
from leadgen_bench.config import MonthConfig
from leadgen_sandbox.smtp_sink import Fault, SmtpSink


class SandboxMx:
    """MX answers for the sandbox: Russian hosts for .ru/.рф/.su and Russian free mail, Google for the rest."""

    RU_SUFFIXES = (".ru", ".xn--p1ai", ".su", ".moscow")

    def resolve_mx(self, domain: str, /) -> MxAnswer:
        host = "mx.yandex.net" if domain.lower().endswith(self.RU_SUFFIXES) else "aspmx.l.google.com"
        return MxAnswer((host,), ttl=3600.0)


FARM_PROCESS = """
import asyncio, sys
from leadgen_sandbox.site_farm import SiteFarm

async def main() -> None:
    farm = SiteFarm(seed=int(sys.argv[1]), slow_seconds=float(sys.argv[2]))
    server = await asyncio.start_server(farm.handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


@contextmanager
def site_farm(config: MonthConfig) -> Iterator[str]:
    """The site farm's proxy URL: in a process of its own (a second core serves pages), or in a thread."""
    if not config.farm_process:
        from leadgen_sandbox.site_farm import SiteFarm

        with SiteFarm(seed=config.seed, slow_seconds=config.farm_slow_seconds) as farm:
            yield farm.proxy_url
        return
    args = [sys.executable, "-c", FARM_PROCESS, str(config.seed), str(config.farm_slow_seconds)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)  # noqa: S603 - our own interpreter and code
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().strip())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _bounces(address: str, rate: float) -> bool:
    """Whether the sandbox treats `address` as a mailbox that does not exist (decided once per address)."""
    digest = hashlib.sha256(address.lower().encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < rate


def inject_smtp_faults(engine: Engine, sink: SmtpSink, config: MonthConfig, rng: random.Random) -> None:
    """Bounce the share of queued recipients whose mailbox "does not exist"; make some of today's sends fail
    temporarily (421/450, retried by the outbox after its backoff)."""
    with read_scope(engine) as s:
        queued = s.scalars(
            select(OutreachMessage.to_email).where(OutreachMessage.status == MessageStatus.QUEUED)
        )
        bouncing = [address for address in queued if address and _bounces(address, config.bounce_rate)]
    for address in bouncing:
        sink.fail_recipient(address, Fault.USER_UNKNOWN, at="rcpt")
    temporary = sum(rng.random() < config.temp_fail_rate for _ in range(config.daily_cap))
    if temporary:
        sink.fail_next(rng.choice([Fault.TEMP_421, Fault.TEMP_450]), times=temporary)
