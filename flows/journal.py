"""`@journaled(stage)`: every flow run leaves one row in the run journal (leadgen.journal), failed or not.

The wrapper is the one place around every flow body, so it also opens the run's shared sync API client
(`flows.runtime.shared_sync_client`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from prefect import State
from prefect.runtime import flow_run

from flows.runtime import shared_sync_client
from leadgen.journal import JobRun
from leadgen.journal import journaled as journal_block
from tasks import runtime
from tasks.runtime import load_settings, open_engine

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def _journal(stage: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[JobRun]:
    params = args[0] if args else kwargs.get("params")
    batch_tag = getattr(params, "batch_tag", None)
    run_id = flow_run.get_id()
    with (
        shared_sync_client(),
        open_engine(load_settings()) as engine,
        journal_block(
            engine,
            stage,
            clock=runtime.current_clock(),
            batch_tag=batch_tag,
            flow_run_id=str(run_id) if run_id else None,
        ) as run,
    ):
        yield run


def _data(result: Any) -> Any:
    """A flow's result, or the data of the State it returned (a Completed state with a message)."""
    return result.data if isinstance(result, State) else result


def journaled(stage: str) -> Callable[[F], F]:
    """Wrap a flow body (sync or async; put it under `@flow`) so its run is journaled under `stage`: the
    parameters' batch_tag, the Prefect flow run id, the result's numbers as counts, or the first line of
    the error that failed it."""

    def wrap(fn: F) -> F:
        # Prefect validates parameters against the signature, whose postponed (string) annotations it would look
        # up in this module's globals: hand it the signature with the flow module's types resolved.
        signature = inspect.signature(fn, eval_str=True)
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with _journal(stage, args, kwargs) as run:
                    result = await fn(*args, **kwargs)
                    run.result = _data(result)
                return result

            run_async.__signature__ = signature  # type: ignore[attr-defined]
            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run_sync(*args: Any, **kwargs: Any) -> Any:
            with _journal(stage, args, kwargs) as run:
                result = fn(*args, **kwargs)
                run.result = _data(result)
            return result

        run_sync.__signature__ = signature  # type: ignore[attr-defined]
        return run_sync  # type: ignore[return-value]

    return wrap
