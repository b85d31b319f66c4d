"""Commands from above the CLI (issue 19): `infra` (orchestration) and `demo`, `sandbox`, `bench` (the test harness)
are listed by `leadgen --help` without being imported, load on use, and fail in one line when the harness is not
installed (the runtime image has neither leadgen_sandbox nor aiosmtpd)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest
from typer.main import get_command

from leadgen.cli import app
from leadgen.cli.lazy import LAZY_COMMANDS, LazyCommand
from leadgen.errors import ConfigurationError

# Runs `leadgen ARGV` with the named top-level packages made unimportable, as on an install without them.
WITHOUT = """
import json, sys
blocked = set(json.loads(sys.argv[1]))

class Uninstalled:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Uninstalled)
from leadgen.cli import main
sys.argv = ["leadgen", *json.loads(sys.argv[2])]
main()
"""


def _run_without(blocked: list[str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT, json.dumps(blocked), json.dumps(argv)],
        env={**os.environ, "DATABASE_URL": "sqlite://"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_root_help_lists_the_lazy_commands_without_importing_them() -> None:
    code = (
        "import sys\nfrom leadgen.cli import main\nsys.argv = ['leadgen', '--help']\ntry:\n    main()\n"
        "except SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in ('infra', 'leadgen_sandbox', 'leadgen_bench') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "LOADED []" in proc.stdout
    for name in LAZY_COMMANDS:
        assert f" {name} " in proc.stdout, f"`leadgen --help` does not list {name}"


@pytest.mark.parametrize(
    ("blocked", "argv", "missing"),
    [
        (["leadgen_sandbox"], ("sandbox", "up", "--seconds", "0"), "leadgen_sandbox"),
        (["leadgen_sandbox"], ("demo", "--once"), "leadgen_sandbox"),
        (["aiosmtpd"], ("sandbox", "up", "--seconds", "0"), "aiosmtpd"),
        (
            ["leadgen_bench", "leadgen_sandbox", "aiosmtpd"],
            ("bench", "month", "--days", "1"),
            "leadgen_bench",
        ),
    ],
    ids=[
        "sandbox-without-harness",
        "demo-without-harness",
        "sandbox-without-aiosmtpd",
        "bench-runtime-image",
    ],
)
def test_a_harness_command_without_the_harness_fails_in_one_line(
    blocked: list[str], argv: tuple[str, ...], missing: str
) -> None:
    proc = _run_without(blocked, *argv)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"`leadgen {argv[0]}` is a dev tool" in lines[0] and f"no module {missing}" in lines[0]
    assert "pip install -e '.[sandbox]'" in lines[0]


def test_the_product_commands_work_without_the_harness() -> None:
    proc = _run_without(["leadgen_sandbox", "leadgen_bench", "aiosmtpd"], "serp", "--help")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_every_lazy_command_loads_under_its_name(name: str) -> None:
    placeholder = get_command(app).commands[name]  # type: ignore[attr-defined]
    assert isinstance(placeholder, LazyCommand)
    command = placeholder.load()
    assert command.name == name and not isinstance(command, LazyCommand)
    assert placeholder.load() is command  # built once


def test_a_missing_module_of_the_command_itself_is_not_hidden() -> None:
    """Only a package the target needs, missing, turns into the one-line hint; any other import error is a bug."""
    target = LAZY_COMMANDS["bench"]
    broken = LazyCommand("bench", replace(target, module="leadgen_bench.no_such_module"))
    with pytest.raises(ModuleNotFoundError):
        broken.load()
    hinted = LazyCommand("bench", replace(target, module="no_such_pkg.cli", needs=("no_such_pkg",)))
    with pytest.raises(ConfigurationError, match="no module no_such_pkg"):
        hinted.load()
