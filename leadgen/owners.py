"""Claim owners: who holds a company or message claim, and whether that owner can still be at work.

An owner is a short text stored with the claim (`claimed_by`), made of `key=value` words::

    flow-run=6f1c… host=worker-1 pid=4242 start=3f2a9c1e.88123 pidns=4026531836

`flow-run` is the Prefect flow run id when the claim was taken inside one (the tasks/ layer passes it; this
package never imports Prefect); the rest names the process: host name, pid, its start (the kernel's boot id and
the process start time in clock ticks, so a pid reused after the owner died, or after a reboot, is not taken for
the owner) and its pid namespace (so a container's pid is never looked up on another container of the same name).

`process_alive(owner)` answers for a process on this host (same host name, boot and pid namespace): False when
the pid is gone, a zombie, or another process; True when it is the owner; None when it cannot tell (another host,
no /proc). `owner_alive(owner, flow_run_alive=...)` adds the flow run's answer: an owner is gone when either its
process or its flow run is known to be gone, alive when either is known to be alive, else None (the stale timeout
decides).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OwnerAlive = Callable[[str], bool | None]
"""`owner_alive(owner) -> bool | None`: False = finished, crashed or gone (release its claims now); True = at
work (keep them); None = cannot tell (leave them to the stale timeout)."""

PROC = Path("/proc")
FLOW_RUN = "flow-run"


@dataclass(frozen=True, slots=True)
class Owner:
    """A parsed owner text; any part may be missing (an owner written by hand or by another platform)."""

    flow_run: str | None = None
    host: str | None = None
    pid: int | None = None
    start: str | None = None
    pidns: str | None = None

    @classmethod
    def parse(cls, text: str, /) -> Owner:
        words = dict(w.split("=", 1) for w in text.split() if "=" in w)
        pid = words.get("pid", "")
        return cls(
            flow_run=words.get(FLOW_RUN) or None,
            host=words.get("host") or None,
            pid=int(pid) if pid.isdigit() else None,
            start=words.get("start") or None,
            pidns=words.get("pidns") or None,
        )

    def text(self) -> str:
        parts = [(FLOW_RUN, self.flow_run), ("host", self.host), ("pid", self.pid)]
        parts += [("start", self.start), ("pidns", self.pidns)]
        return " ".join(f"{k}={v}" for k, v in parts if v is not None)[:255]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def _boot_id() -> str | None:
    boot = _read(PROC / "sys/kernel/random/boot_id")
    return boot.replace("-", "")[:12] if boot else None


def _stat(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks since boot) of a process, from /proc/<pid>/stat; None if gone."""
    stat = _read(PROC / str(pid) / "stat")
    if not stat or ")" not in stat:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces or parentheses
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _pidns() -> str | None:
    try:
        link = os.readlink(PROC / "self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return None
    return link.partition("[")[2].rstrip("]") or None


def _start_token(boot: str | None, ticks: str) -> str:
    return f"{boot or '-'}.{ticks}"


def process_owner(*, flow_run: str | None = None) -> str:
    """This process as an owner (computed at each call: a forked child is its own owner), with the flow run id
    when the claim is taken inside a Prefect flow run."""
    pid = os.getpid()
    stat = _stat(pid)
    start = _start_token(_boot_id(), stat[1]) if stat else None
    return Owner(flow_run, socket.gethostname(), pid, start, _pidns()).text()


def _same_host(owner: Owner) -> bool:
    me = Owner.parse(process_owner())
    boot = (owner.start or "").partition(".")[0]
    my_boot = (me.start or "").partition(".")[0]
    return (
        owner.host == me.host
        and owner.pidns is not None
        and owner.pidns == me.pidns
        and boot != "-"
        and boot == my_boot
    )


def process_alive(owner: str | Owner, /) -> bool | None:
    """Is the owner's process still the one that claimed? None when it is not on this host or /proc is missing."""
    parsed = owner if isinstance(owner, Owner) else Owner.parse(owner)
    if parsed.pid is None or parsed.start is None or not _same_host(parsed):
        return None
    stat = _stat(parsed.pid)
    if stat is None:
        return False  # no such process
    state, ticks = stat
    if state in ("Z", "X"):  # exited, not yet reaped: its work is over
        return False
    return parsed.start.partition(".")[2] == ticks  # another start time: the pid was reused


def owner_alive(owner: str, /, *, flow_run_alive: OwnerAlive | None = None) -> bool | None:
    """The process's answer and, for a flow-run owner, `flow_run_alive(flow_run_id)`: gone when either says
    gone, alive when either says alive, else None."""
    parsed = Owner.parse(owner)
    local = process_alive(parsed)
    if local is False or parsed.flow_run is None or flow_run_alive is None:
        return local  # a dead process needs no API call
    remote = flow_run_alive(parsed.flow_run)
    if remote is False:
        return False
    return True if True in (local, remote) else None


def memoised(check: OwnerAlive) -> OwnerAlive:
    """`check` asked once per owner (one release pass asks about many rows of few owners)."""
    seen: dict[str, bool | None] = {}

    def ask(owner: str) -> bool | None:
        if owner not in seen:
            seen[owner] = check(owner)
        return seen[owner]

    return ask
