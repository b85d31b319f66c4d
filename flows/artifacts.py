"""Run artifacts: a markdown summary and a table per run, and a progress bar for long flows (no raw PII).

The sync helpers pass `_sync=True` (Prefect would hand back coroutines inside async flows); the `a…` ones are for
async flows, where they reuse the flow run's API client and create a run's artifacts concurrently.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    Artifact,
    MarkdownArtifact,
    TableArtifact,
    acreate_progress_artifact,
    aupdate_progress_artifact,
    create_progress_artifact,
)
from prefect.artifacts import update_progress_artifact as _update_progress

# Unicode-aware: Cyrillic local parts and IDN domains (почта@клиника.рф, punycode TLDs) are masked too.
EMAIL_RE = re.compile(r"([\w.%+-])[\w.%+-]*@((?:[\w-]+\.)+(?:[^\W\d_]{2,}|xn--[\w-]+))")
MAX_ROWS = 200


def mask_pii(text: str) -> str:
    """`ivan.petrov@firm.ru` → `i***@firm.ru`: artifacts live in the Prefect database, not the pipeline's."""
    return EMAIL_RE.sub(r"\1***@\2", text)


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, list | dict):
        return mask_pii(str(value))
    return value


def error_rows(report: Mapping[str, Any], *, stage: str) -> list[dict[str, Any]]:
    """The per-item errors of a report dict (`errors`: leadgen.stage_report.ItemError as dicts) as table rows,
    without their empty fields."""
    rows = []
    for error in report.get("errors") or []:
        if isinstance(error, Mapping):
            rows.append({"stage": stage, **{k: _cell(v) for k, v in error.items() if v is not None}})
    return rows


def counts(report: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar fields of a report dict (counts, flags, times), without lists."""
    return {k: v for k, v in report.items() if not isinstance(v, list | dict)}


def _error_label(error: Mapping[str, Any]) -> str:
    """`query 12`, `company firm.ru`: the kind of item (`ItemError.item`) and its key or id, as far as known."""
    handle = error.get("key") if error.get("key") is not None else error.get("id")
    return " ".join(str(part) for part in (error.get("item"), handle) if part not in (None, ""))


def markdown_summary(
    title: str, lines: Iterable[str], stats: Mapping[str, Any], errors: Sequence[Mapping[str, Any]]
) -> str:
    """A small markdown document: title, what happened, the counts, and the first errors with reasons."""
    parts = [f"# {title}", ""]
    parts += [f"- {mask_pii(line)}" for line in lines]
    if stats:
        parts += ["", "| field | value |", "|---|---|"]
        parts += [f"| {k} | {_cell(v)} |" for k, v in stats.items()]
    parts += ["", f"**Errors: {len(errors)}**"]
    for error in errors[:20]:
        reason = error.get("reason", "")
        parts.append(f"- `{_cell(_error_label(error))}`: {_cell(reason)}")
    if len(errors) > 20:
        parts.append(f"- … and {len(errors) - 20} more (see the table artifact)")
    return "\n".join(parts) + "\n"


def documents(
    key: str,
    title: str,
    *,
    lines: Iterable[str] = (),
    stats: Mapping[str, Any] | None = None,
    table: Sequence[Mapping[str, Any]] = (),
    errors: Sequence[Mapping[str, Any]] = (),
) -> list[Artifact]:
    """`<key>-summary` (markdown), `<key>-table` (what was done) and, when something failed, `<key>-errors`."""
    rows = [{k: _cell(v) for k, v in row.items()} for row in table][:MAX_ROWS]
    made: list[Artifact] = [
        MarkdownArtifact(
            key=f"{key}-summary",
            markdown=markdown_summary(title, lines, stats or {}, errors),
            description=title,
        ),
        TableArtifact(
            key=f"{key}-table",
            table=rows or [{"result": "nothing done"}],
            description=f"{title}: what was done",
        ),
    ]
    if errors:
        failed = [{k: _cell(v) for k, v in row.items()} for row in errors][:MAX_ROWS]
        made.append(
            TableArtifact(key=f"{key}-errors", table=failed, description=f"{title}: what failed and why")
        )
    return made


def publish(key: str, title: str, **content: Any) -> None:
    """Create the run's `documents` one after another (sync flows; `apublish` in async ones)."""
    for artifact in documents(key, title, **content):
        artifact.create(_sync=True)  # type: ignore[call-arg]  # sync, also when called inside an async flow


async def apublish(key: str, title: str, **content: Any) -> None:
    """Create the run's `documents` at once, through the flow run's own API client (async flows)."""
    await asyncio.gather(*(artifact.acreate() for artifact in documents(key, title, **content)))


def start_progress(key: str, description: str) -> UUID:
    """A progress artifact at 0 %."""
    created = create_progress_artifact(
        progress=0.0,
        key=f"{key}-progress",
        description=description,
        _sync=True,  # type: ignore[call-arg]
    )
    assert isinstance(created, UUID), "called with _sync=True: the artifact id, not a coroutine"
    return created


async def astart_progress(key: str, description: str) -> UUID:
    """`start_progress` for async flows."""
    return await acreate_progress_artifact(progress=0.0, key=f"{key}-progress", description=description)


def _percent(done: float, total: float) -> float:
    return 100.0 if total <= 0 else min(100.0, 100.0 * done / total)


def update_progress(artifact_id: UUID, done: float, total: float) -> None:
    """Set the progress to done/total (percent, capped at 100)."""
    _update_progress(artifact_id=artifact_id, progress=_percent(done, total), _sync=True)  # type: ignore[call-arg]


async def aupdate_progress(artifact_id: UUID, done: float, total: float) -> None:
    """`update_progress` for async flows."""
    await aupdate_progress_artifact(artifact_id=artifact_id, progress=_percent(done, total))


def flat_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per step with the union of columns, so the table renders with aligned columns."""
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    return [{k: row.get(k, "") for k in keys} for row in rows]
