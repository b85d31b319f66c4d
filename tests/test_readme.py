"""The README and the repository keep their promises to a new user (issue 22): every command is listed, the
sample SERP page parses from a fresh clone, the sandbox folder is ignored, Prefect telemetry is off."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from typer.main import get_command

from leadgen.cli import app
from leadgen.cli.lazy import LazyCommand

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _leaf_commands() -> list[str]:
    """Every runnable command as `group sub` (or `cmd` for a top-level one)."""
    found: list[str] = []

    def walk(cmd: Any, prefix: list[str]) -> None:
        if hasattr(cmd, "commands"):  # a group (Typer vendors its own Click: matched by shape)
            for name, sub in cmd.commands.items():
                walk(sub.load() if isinstance(sub, LazyCommand) else sub, [*prefix, name])
        else:
            found.append(" ".join(prefix))

    walk(get_command(app), [])
    return found


def _readme_command_block() -> str:
    start = README.index("## Command line")
    block = re.search(r"```bash\n(.*?)```", README[start:], re.S)
    assert block is not None, "README: no command block under '## Command line'"
    return block.group(1)


def test_readme_lists_every_command() -> None:
    block = _readme_command_block()
    lines: dict[str, list[set[str]]] = {}  # top-level command -> the words of each line that starts with it
    for line in block.splitlines():
        if m := re.match(r"\.venv/bin/leadgen ([a-z-]+)(?![\w])(.*)", line):
            words = set(re.findall(r"(?<![\w.-])[a-z][a-z-]*", m.group(2).split("#")[0]))
            lines.setdefault(m.group(1), []).append(words)

    def listed(command: str) -> bool:
        top, *subs = command.split()
        return any(set(subs) <= words for words in lines.get(top, []))

    missing = [c for c in _leaf_commands() if not listed(c)]
    assert not missing, f"README's command block does not list: {missing}"


def test_sample_serp_page_parses_from_a_fresh_clone(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "leadgen", "serp", "parse", str(ROOT / "examples" / "serp_page.xml")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,  # no .env, no database
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) >= 5 and any(r["skip_reason"] is None for r in rows)
    assert list(tmp_path.iterdir()) == []  # parsing writes nothing
    assert "examples/serp_page.xml" in README


def test_default_sandbox_folder_is_ignored_by_git() -> None:
    sandbox = get_command(app).commands["sandbox"]
    assert isinstance(sandbox, LazyCommand)
    default = next(p.default for p in sandbox.load().commands["up"].params if p.name == "workdir")
    assert Path(default) == Path("sandbox")
    proc = subprocess.run(
        ["git", "check-ignore", "-q", "--no-index", "sandbox/leadgen.db"], cwd=ROOT, check=False, timeout=30
    )
    assert proc.returncode == 0, "sandbox/ is not in .gitignore"


def test_prefect_telemetry_is_off_in_compose_image_and_docs() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    server_env = compose["services"]["prefect-server"]["environment"]
    assert server_env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false" and server_env["DO_NOT_TRACK"] == "1"
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "PREFECT_SERVER_ANALYTICS_ENABLED=false" in dockerfile and "DO_NOT_TRACK=1" in dockerfile
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "PREFECT_SERVER_ANALYTICS_ENABLED=false" in operations and "DO_NOT_TRACK=1" in operations


def test_prefect_setting_name_is_real() -> None:
    """The names above are Prefect's own: the server setting exists and DO_NOT_TRACK switches SDK events off."""
    from prefect.settings.models.server.root import ServerSettings

    assert "analytics_enabled" in ServerSettings.model_fields
    source = Path(sys.modules["prefect"].__file__ or "").parent / "_internal" / "analytics" / "enabled.py"
    assert "DO_NOT_TRACK" in source.read_text(encoding="utf-8")
