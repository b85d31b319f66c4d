"""The task cache: where cached tasks persist their results (a folder on the shared data volume), and clearing it.

Each cached task's record is one JSON file named by its cache key, `<kind prefix><digest>`, so a kind is cleared by
deleting its files. Kept free of Prefect imports: `leadgen infra cache` reads it without loading Prefect.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from leadgen.settings import Settings

# Cache kind -> file-name prefix of its records (the cache key's prefix).
KINDS: dict[str, str] = {"llm": "llm-draft-", "mx": "mx-"}


def storage_path(settings: Settings) -> Path:
    """The result storage of every cached task: CACHE_DIR, default DATA_DIR/task-cache (absolute)."""
    return settings.task_cache_dir


def cache_key(kind: str, digest: str) -> str:
    """The cache key (and file name) of one record of `kind`."""
    return KINDS[kind] + digest


@contextmanager
def committed_at_once() -> Iterator[None]:
    """Around a cached task called inside another task: its record is written when it finishes.

    A task run inside a task joins the caller's transaction, which writes the child's record only when the caller
    succeeds and rolls it back when the caller fails: exactly the runs a retry is for would lose their cache.
    """
    from prefect.transactions import CommitMode, transaction

    with transaction(commit_mode=CommitMode.EAGER):
        yield


def kind_of(path: Path) -> str | None:
    """The kind of a file in the cache folder by its name, None for anything else."""
    return next((kind for kind, prefix in KINDS.items() if path.name.startswith(prefix)), None)


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """Records and bytes of one kind in the cache folder."""

    kind: str
    records: int
    size_bytes: int


def cache_files(settings: Settings, kinds: tuple[str, ...] = tuple(KINDS)) -> list[Path]:
    """The records of these kinds in the cache folder (none when it does not exist yet)."""
    folder = storage_path(settings)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and kind_of(p) in kinds)


def cache_usage(settings: Settings) -> list[CacheUsage]:
    """Records and bytes per kind."""
    files = cache_files(settings)
    return [
        CacheUsage(
            kind,
            sum(kind_of(p) == kind for p in files),
            sum(p.stat().st_size for p in files if kind_of(p) == kind),
        )
        for kind in KINDS
    ]


def clear_cache(settings: Settings, kinds: tuple[str, ...] = tuple(KINDS)) -> int:
    """Delete the records of these kinds; the next run computes them again. Returns the number deleted."""
    removed = 0
    for path in cache_files(settings, kinds):
        path.unlink(missing_ok=True)
        removed += 1
    return removed
