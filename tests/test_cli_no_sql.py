"""The CLI holds no SQL (issue 19): its commands call named stage functions, never build or run queries."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.source import parse_source

CLI = Path(__file__).resolve().parents[1] / "leadgen" / "cli"
QUERY_BUILDERS = {"select", "insert", "update", "delete", "func", "text", "and_", "or_"}
SESSION_CALLS = {"execute", "scalar", "scalars"}

ALLOWED: set[str] = set()  # no CLI module may query: lookups live in the stage packages


def sql_in(source: str) -> list[str]:
    """What in a module looks like SQL: names imported from sqlalchemy that build queries, and session calls."""
    found: list[str] = []
    for node in ast.walk(parse_source(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [f"import {a.name}" for a in node.names if a.name in QUERY_BUILDERS]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SESSION_CALLS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "session"
        ):
            found.append(f"session.{node.func.attr}() line {node.lineno}")
    return found


def test_the_scan_sees_query_builders_and_session_calls() -> None:
    source = "from sqlalchemy import func, select\ndef f(session):\n    return session.scalar(select(1))\n"
    assert sql_in(source) == ["import func", "import select", "session.scalar() line 3"]
    assert sql_in("from sqlalchemy.exc import SQLAlchemyError\nfrom sqlalchemy import Engine\n") == []


def test_no_cli_module_holds_sql() -> None:
    offenders = {
        path.name: found
        for path in sorted(CLI.glob("*.py"))
        if path.name not in ALLOWED and (found := sql_in(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "move the query into the stage package as a named function and call it"


def test_the_allow_list_only_holds_modules_that_still_query() -> None:
    clean = sorted(name for name in ALLOWED if not sql_in((CLI / name).read_text(encoding="utf-8")))
    assert clean == [], "these hold no SQL any more: delete them from ALLOWED"
