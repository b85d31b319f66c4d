"""The CLI starts light (issue 21): importing the app, `--help` and `--version` load no client, server or database.

Each check runs in a fresh interpreter (a module imported by an earlier test would hide an eager import), and the
figure the issue asks for, the start-up time, is measured in tests/perf/test_start_time.py.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Loaded by the command that needs them, never by `import leadgen.cli.app`, `leadgen --help` or `leadgen --version`.
HEAVY = (
    "openai",
    "prefect",
    "httpx",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "pydantic_settings",
    "aiosmtpd",
    "imapclient",
    "starlette",
    "uvicorn",
    "leadgen.settings",
    "leadgen.db",
    "leadgen.outreach",
    "leadgen.mailbox",
    "flows",  # the orchestration layer sits above the CLI (issue 19): its commands import it when they run
    "infra",
    "tasks",
)

# Runs the CLI in-process (argv given as JSON) and prints which HEAVY modules got imported, as JSON, on stderr.
PROBE = """
import json, sys
heavy, argv = json.loads(sys.argv[1]), json.loads(sys.argv[2])
import leadgen.cli.app
if argv:
    from leadgen.cli import main
    sys.argv = ["leadgen", *argv]
    try:
        main()
    except SystemExit:
        pass
sys.stderr.write("\\nLOADED " + json.dumps(sorted(m for m in heavy if m in sys.modules)) + "\\n")
"""


def _loaded(*argv: str, env: dict[str, str] | None = None) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), json.dumps(argv)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    marker = [line for line in proc.stderr.splitlines() if line.startswith("LOADED ")]
    assert marker, proc.stderr
    loaded: list[str] = json.loads(marker[-1].removeprefix("LOADED "))
    return loaded


def test_the_issue_check_prints_false_three_times() -> None:
    check = "import sys, leadgen.cli.app; print('openai' in sys.modules, 'prefect' in sys.modules, 'httpx' in sys.modules)"
    proc = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.split() == ["False", "False", "False"]


@pytest.mark.parametrize(
    "argv",
    [
        (),
        ("--version",),
        ("--help",),
        ("outreach", "--help"),
        ("mailbox", "sync", "--help"),
        ("db", "--help"),
        ("serp", "ingest", "--help"),
        ("yandex", "search", "--help"),
        ("demo", "--help"),
        ("sandbox", "up", "--help"),
        ("bench", "month", "--help"),
        ("health", "--help"),
    ],
    ids=lambda argv: " ".join(argv) or "import",
)
def test_start_and_help_load_nothing_heavy(argv: tuple[str, ...]) -> None:
    assert _loaded(*argv) == []


@pytest.mark.parametrize(
    "argv", [("infra", "--help"), ("infra", "cache", "--help"), ("infra", "bootstrap", "--help")]
)
def test_infra_help_loads_its_own_module_only(argv: tuple[str, ...]) -> None:
    """`leadgen infra` lives in the orchestration layer (infra/cli.py), added lazily: its help imports that module
    (so `infra` is loaded) and nothing else: no Prefect, no settings, no flows or tasks."""
    assert _loaded(*argv) == ["infra"]


def test_a_command_still_loads_what_it_needs() -> None:
    """The probe sees imports: `db current` against a closed port gets as far as SQLAlchemy and Alembic."""
    loaded = _loaded("db", "current", env={"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"})
    assert {"sqlalchemy", "alembic", "leadgen.settings"} <= set(loaded)


def _module_level_imports(node: ast.AST) -> set[str]:
    """Top-level package names imported by statements that run at import time (function bodies left out)."""
    found: set[str] = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(child, ast.Import):
            found |= {alias.name.split(".")[0] for alias in child.names}
        elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
            found.add(child.module.split(".")[0])
        found |= _module_level_imports(child)
    return found


def test_the_import_time_scan_sees_top_level_imports_only() -> None:
    tree = ast.parse("import flows.night\nif True:\n    from infra import plan\ndef f():\n    import tasks\n")
    assert _module_level_imports(tree) == {"flows", "infra"}


def test_no_cli_module_imports_the_orchestration_layer_at_import_time() -> None:
    """Issue 19: the CLI stands below `flows`, `infra` and `tasks`; a command imports them when it runs."""
    cli = Path(__file__).resolve().parents[1] / "leadgen" / "cli"
    offenders = {
        path.name: sorted(names & {"flows", "infra", "tasks", "prefect"})
        for path in sorted(cli.glob("*.py"))
        if (names := _module_level_imports(ast.parse(path.read_text(encoding="utf-8"))))
        & {"flows", "infra", "tasks", "prefect"}
    }
    assert offenders == {}
