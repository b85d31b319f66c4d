"""`leadgen sandbox up` and `leadgen demo` (the latter as `make demo` runs it: a fresh process, no credentials)."""

from __future__ import annotations

from tests.orchestration.stages import require_stages

require_stages()

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from leadgen.cli import app
from leadgen.db import make_engine, migrate
from leadgen.db.engine import write_scope
from leadgen.settings import Settings
from leadgen_sandbox.demo import snapshot

ROOT = Path(__file__).resolve().parents[2]
DEMO_BUDGET_SECONDS = 180


def test_sandbox_up_prints_addresses_and_writes_settings(tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.env"
    result = CliRunner().invoke(
        app,
        ["sandbox", "up", "--seconds", "0.2", "--workdir", str(tmp_path / "sb"), "--env-file", str(env_file)],
    )
    assert result.exit_code == 0, result.output
    urls = re.findall(r"(?:https?|smtp)://127\.0\.0\.1:\d+", result.output)
    assert len(urls) == 4
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.yandex_search_api_url.startswith("http://127.0.0.1:")
    assert settings.crawl_proxy_url is not None and settings.crawl_proxy_url.startswith("http://127.0.0.1:")
    assert settings.smtp_route("gmail").host == "127.0.0.1"
    assert settings.openai_base_url is not None and settings.openai_base_url.endswith("/v1")
    assert "sandbox stopped" in result.output
    # The sink creates its delivered Maildir but not the folder above it: without it every message got a 500.
    assert (tmp_path / "sb" / "smtp-sink").is_dir()


def test_demo_snapshot_counts_duplicates(settings: Settings) -> None:
    from leadgen.db.models import Company, CompanyStatus

    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    with write_scope(engine) as session:
        session.add(Company(name="A", canonical_domain="a.ru", status=CompanyStatus.NEW))
        session.add(Company(name="A copy", canonical_domain=None, status=CompanyStatus.DUPLICATE))
    delivered = [("x@a.ru", "<1@l>"), ("X@a.ru", "<2@l>"), ("y@a.ru", "<2@l>")]
    with write_scope(engine) as session:
        shot = snapshot(session, delivered=delivered)
        assert session.scalar(select(Company.canonical_domain).where(Company.name == "A")) == "a.ru"
    engine.dispose()
    assert shot.duplicates["companies (same domain)"] == 0
    assert shot.duplicates["emails delivered twice (same recipient)"] == 1
    assert shot.duplicates["emails delivered twice (same Message-ID)"] == 1
    assert not shot.clean


@pytest.mark.slow
def test_demo_runs_end_to_end_on_a_fresh_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LEADGEN_"))}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "leadgen", "demo", "--once", "--workdir", str(tmp_path / "demo")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_BUDGET_SECONDS,
        check=False,
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert elapsed < DEMO_BUDGET_SECONDS
    for title in ("queries", "companies", "contacts", "drafts and messages", "received by the SMTP sink"):
        assert re.search(rf"{title} \((\d+)\)", output), f"no {title!r} table in the demo output"
        assert int(re.search(rf"{title} \((\d+)\)", output).group(1)) > 0, title  # type: ignore[union-attr]
    assert "duplicates (must all be 0)" in output
    assert not re.search(
        r"│\s+[1-9]\d*\s+│\s*$", output.split("duplicates (must all be 0)")[1].split("report")[0], re.M
    )
    assert "report: batch demo" in output
    # The loop: the relay's DSNs and the reply were read from the sandbox Maildir, once.
    assert re.search(r"│ suppressed by bounce\s*│\s*[1-9]\d*\s*│", output), output[-3000:]
    assert re.search(r"│ replies\s*│\s*1\s*│", output) and "Latest replies" in output
    assert re.search(r"read again: [1-9]\d* messages, 0 recorded", output)
    assert not (tmp_path / ".prefect").exists(), "the demo must keep Prefect's files in its own folder"
