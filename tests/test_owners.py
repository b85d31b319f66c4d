"""Claim owners: the owner text, a process judged alive, dead or reused on this host, and the flow run's answer."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace

import pytest

from leadgen.owners import Owner, memoised, owner_alive, process_alive, process_owner
from tests.support.owners import child_owner, dead_owner

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/stat"), reason="process checks read /proc (Linux)"
)


def test_owner_text_round_trips_and_names_host_pid_and_start() -> None:
    run = str(uuid.uuid4())
    owner = Owner.parse(process_owner(flow_run=run))
    assert owner.flow_run == run and owner.pid == os.getpid()
    assert owner.host and owner.start and owner.pidns
    assert Owner.parse(owner.text()) == owner
    assert Owner.parse("written by hand") == Owner()


def test_this_process_is_alive() -> None:
    assert process_alive(process_owner()) is True
    assert owner_alive(process_owner()) is True


def test_a_live_child_is_alive_until_it_dies() -> None:
    with child_owner() as (owner, child):
        assert process_alive(owner) is True
        child.kill()
        child.wait()
        assert process_alive(owner) is False
    assert process_alive(dead_owner()) is False


def test_a_reused_pid_is_not_taken_for_the_owner() -> None:
    me = Owner.parse(process_owner())
    boot, _, ticks = (me.start or "").partition(".")
    reused = replace(me, start=f"{boot}.{int(ticks) + 1}")  # same pid, another start time
    assert process_alive(reused) is False


@pytest.mark.parametrize(
    "change",
    [{"host": "another-host"}, {"pidns": "1"}, {"start": None}],
    ids=["other host", "other pid namespace", "no start time"],
)
def test_a_process_elsewhere_cannot_be_judged(change: dict[str, object]) -> None:
    elsewhere = replace(Owner.parse(dead_owner()), **change)  # type: ignore[arg-type]
    assert process_alive(elsewhere) is None


def test_a_flow_run_owner_is_judged_by_its_flow_run_and_its_process() -> None:
    run = str(uuid.uuid4())
    remote = replace(Owner.parse(process_owner(flow_run=run)), host="container-1").text()
    answers: dict[str, bool | None] = {}
    asked: list[str] = []

    def api(flow_run: str) -> bool | None:
        asked.append(flow_run)
        return answers[flow_run]

    for answer in (False, True, None):
        answers[run] = answer
        assert owner_alive(remote, flow_run_alive=api) is answer
    # Its process is dead on this host: gone, without asking the API.
    asked.clear()
    assert owner_alive(dead_owner(flow_run=run), flow_run_alive=api) is False and asked == []
    # Its process is alive here but the API reports the run final: gone.
    answers[run] = False
    assert owner_alive(process_owner(flow_run=run), flow_run_alive=api) is False
    answers[run] = None
    assert owner_alive(process_owner(flow_run=run), flow_run_alive=api) is True


def test_memoised_asks_once_per_owner() -> None:
    asked: list[str] = []
    ask = memoised(lambda o: asked.append(o) or None)
    for owner in ("a", "b", "a", "a"):
        ask(owner)
    assert asked == ["a", "b"]
