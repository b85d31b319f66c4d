"""Parse the project's own source with `ast`, immune to an interpreter bug that other tests' threads can set off.

CPython 3.11 keeps the AST converter's recursion counter per interpreter, not per thread (gh-106905): when a
background thread some earlier test left running (a server, a Prefect worker thread) compiles code while
`ast.parse` converts a tree, the counter comes back off and `ast.parse` fails with "SystemError: AST constructor
recursion depth mismatch". The parse itself is sound, so the layout tests try it again.
"""

from __future__ import annotations

import ast
from pathlib import Path

ATTEMPTS = 5


def parse_source(source: str, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse(source)`, tried again when the interpreter's shared recursion counter was disturbed."""
    for attempt in range(ATTEMPTS):
        try:
            return ast.parse(source, filename)
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc) or attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def parse_file(path: Path) -> ast.Module:
    """The module at `path`, parsed with `parse_source`."""
    return parse_source(path.read_text(encoding="utf-8"), str(path))
