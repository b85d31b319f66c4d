"""The task cache on the Prefect side: its folder, and a LocalFileSystem block naming it (idempotent)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from prefect.filesystems import LocalFileSystem

from leadgen.settings import Settings
from tasks.cache import storage_path

TASK_CACHE_BLOCK = "leadgen-task-cache"


def ensure_task_cache(settings: Settings) -> tuple[Literal["created", "updated", "unchanged"], str]:
    """Create the cache folder and the `local-file-system/leadgen-task-cache` block pointing at it.

    The cached tasks write to the folder directly (no API call per task run to load a block); the block shows
    operators, in the UI, where results persist, and can serve as PREFECT_DEFAULT_RESULT_STORAGE_BLOCK.
    Returns (outcome, folder): created, updated (the folder changed) or unchanged.
    """
    folder = storage_path(settings)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        existing: LocalFileSystem | None = LocalFileSystem.load(TASK_CACHE_BLOCK)  # type: ignore[assignment]
    except ValueError:  # no block of that name yet
        existing = None
    if existing is not None and existing.basepath and Path(existing.basepath) == folder:
        return "unchanged", str(folder)
    LocalFileSystem(basepath=str(folder)).save(TASK_CACHE_BLOCK, overwrite=True)
    return ("created" if existing is None else "updated"), str(folder)
