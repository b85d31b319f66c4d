"""Output files: refuse to overwrite an input, require the folder to exist, write to a temp file and rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from leadgen.errors import OutputUnusable


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # same inode and device: hard links, bind mounts
    except OSError:
        return False


def check_output(path: Path, /, *, inputs: Iterable[Path] = ()) -> Path:
    """Raise OutputUnusable unless `path` can be written without harm: not one of `inputs` (by resolved path or
    inode), not a folder, inside an existing folder (never created) where a file can be created. Returns `path`."""
    path = Path(path)
    for given in inputs:
        if _same_file(path, Path(given)):
            raise OutputUnusable(f"refusing to overwrite the input file {given}: choose another output path")
    if path.is_dir():
        raise OutputUnusable(f"output {path} is a folder, not a file")
    folder = path.parent
    if not folder.is_dir():
        raise OutputUnusable(f"the folder of the output {path} does not exist: create it first")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".check"):
            pass
    except OSError as exc:
        raise OutputUnusable(f"cannot write into {folder}: {exc.strerror or exc}") from exc
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputUnusable(f"output {path} is not writable")
    return path


def _new_file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextmanager
def atomic_output(path: Path, /, *, inputs: Iterable[Path] = ()) -> Iterator[TextIO]:
    """A UTF-8 text handle (newline="") on a temp file next to `path`, renamed over `path` when the block ends
    without an error; on error the temp file is removed and `path` is left as it was."""
    path = check_output(Path(path), inputs=inputs)
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
