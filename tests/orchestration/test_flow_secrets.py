"""Secrets never reach what Prefect keeps of a run: a whole pipeline run through the flows, then every artifact,
log, run, task run and variable on the API, every record of the task cache (persisted results), and the process's
output, grepped for each secret. The task cache also holds no email address the database does not hold.

The stage-level check (tests/security/test_secrets.py) covers the database, files, reports and failure paths;
this one covers the Prefect side, which a flow-run container ships to the server.
"""

from __future__ import annotations

from tests.orchestration.stages import require_stages

require_stages()

import json
import logging
import re
from dataclasses import replace
from pathlib import Path

import pytest

from flows.params import PipelineParams
from flows.pipeline import pipeline_flow
from leadgen.clock import utc_now
from leadgen.outreach.router import MxAnswer
from leadgen_sandbox.smtp_sink import SmtpSink
from leadgen_sandbox.stack import SandboxStack
from leadgen_sandbox.yandex_emulator import YandexEmulator
from tasks import mx
from tasks.cache import cache_files, storage_path
from tests.orchestration.conftest import TickingClock, open_sandbox, ship_logs_and_events
from tests.security.test_secrets import dump_database

SMTP_PASSWORD = "smtp-Pa55-flows-do-not-leak"
OPENAI_KEY = "sk-live-FlowsDoNotLeak-0123456789abcdef"
YANDEX_KEY = "AQVN-flows-do-not-leak-0123456789abcdef"
PAGE = 200  # the API's largest page
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class AnyMx:
    """Every domain has an MX (there is no DNS in the test network), so MX lookups run and are cached."""

    def resolve_mx(self, domain: str, /) -> MxAnswer:
        return MxAnswer((f"mx.{domain}",), ttl=3600)


def task_cache_text(folder: Path) -> tuple[str, int]:
    """Every file under the task cache folder as text, each record's result decoded too; and the record count."""
    from prefect._internal.result_records import ResultRecord

    parts, records = [], 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        parts.append(raw.decode(errors="replace"))
        record = ResultRecord.deserialize(raw)
        parts.append(json.dumps(record.result, ensure_ascii=False, default=str))
        records += 1
    return "\n".join(parts), records


def prefect_records() -> dict[str, str]:
    """Everything the API holds, as text, by kind (every page of each)."""
    from prefect.client.orchestration import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def read() -> dict[str, str]:
        kinds = {}
        async with get_client() as client:
            readers = {
                "artifacts": client.read_artifacts,
                "logs": client.read_logs,
                "flow runs": client.read_flow_runs,
                "task runs": client.read_task_runs,
            }
            for kind, reader in readers.items():
                rows: list[str] = []
                while batch := await reader(limit=PAGE, offset=len(rows)):
                    rows += [item.model_dump_json() for item in batch]
                kinds[kind] = "\n".join(rows)
            kinds["variables"] = "\n".join(v.model_dump_json() for v in await client.read_variables())
        return kinds

    return run_coro_as_sync(read())


@pytest.mark.slow
def test_no_secret_in_prefect_artifacts_logs_runs_or_output(
    prefect_harness: None,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = TickingClock(utc_now())
    stack = SandboxStack(max_results=4, time_to_done=0, clock=clock)
    stack.sink = SmtpSink(tls="starttls", auth=("robot", SMTP_PASSWORD))
    stack.emulator = YandexEmulator(replace(stack.emulator.config, api_keys=frozenset({YANDEX_KEY})))
    extra = {"openai_api_key": OPENAI_KEY, "routing_mx_lookup": True}
    monkeypatch.setattr(mx, "new_resolver", lambda settings: AnyMx())
    with open_sandbox(
        stack, clock, db_url=db_url, workdir=tmp_path, monkeypatch=monkeypatch, extra=extra
    ) as box:
        params = PipelineParams(batch_tag="demo", search_limit=50, collect_wait_seconds=120, enrich_limit=50)
        result = pipeline_flow(params)
        # Every secret was used: the searches were authorised, the LLM drafted, the sink took the login.
        assert result["search"]["submitted"] > 0 and result["collect"]["done"] > 0
        assert result["outreach"]["sent"] > 0 and box.stack.sink.count == result["outreach"]["sent"]
        assert f"Bearer {OPENAI_KEY}" in box.stack.llm.authorizations
        ship_logs_and_events()
        texts = prefect_records()
        texts["task cache"], records = task_cache_text(storage_path(box.settings))
        database = dump_database(box.engine)
    # The LLM answers and the MX lookups were cached; their records hold only addresses the database holds.
    kinds = {path.name.split("-", 1)[0] for path in cache_files(box.settings)}
    assert kinds == {"llm", "mx"} and records >= 2, kinds
    stray = set(EMAIL_RE.findall(texts["task cache"])) - set(EMAIL_RE.findall(database))
    assert not stray, f"addresses in the task cache that the database does not hold: {sorted(stray)[:5]}"
    out, err = capfd.readouterr()
    texts["stdout/stderr"] = out + err
    texts["captured logs"] = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "-summary" in texts["artifacts"] and "Finished in state" in texts["logs"]  # the run was recorded
    for secret in (SMTP_PASSWORD, OPENAI_KEY, YANDEX_KEY):
        for where, text in texts.items():
            assert secret not in text, f"secret {secret[:6]}… leaked into {where}"
