"""Claim owners for tests: a live child process as owner, the same owner once the child is dead."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from leadgen.owners import Owner, _stat, process_owner


def owner_of(pid: int, *, flow_run: str | None = None) -> str:
    """The owner text of process `pid` on this host (its start read from /proc now)."""
    me = Owner.parse(process_owner())
    stat = _stat(pid)
    assert stat is not None, f"process {pid} has no /proc entry"
    boot = (me.start or "-.").partition(".")[0]
    return replace(me, flow_run=flow_run, pid=pid, start=f"{boot}.{stat[1]}").text()


@contextmanager
def child_owner(*, flow_run: str | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A `sleep` child process and its owner text; kill it (`child.kill(); child.wait()`) to make the owner gone."""
    child = subprocess.Popen(["sleep", "60"])
    try:
        yield owner_of(child.pid, flow_run=flow_run), child
    finally:
        child.kill()
        child.wait()


def dead_owner(*, flow_run: str | None = None) -> str:
    """The owner text of a process that has exited (and been reaped)."""
    with child_owner(flow_run=flow_run) as (owner, child):
        child.kill()
        child.wait()
    return owner
