"""`leadgen bench month` end to end at a tiny size (the full month is tests/perf/test_month.py)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from leadgen.cli.app import app


def test_bench_month_tiny_run_reports_the_seed_metrics() -> None:
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "month",
            "--days",
            "2",
            "--niches",
            "1",
            "--cities",
            "2",
            "--daily-cap",
            "20",
            "--json",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["days"] == 2 and report["queries_done"] == report["queries_planned"] == 2
    assert report["unique_companies"] > 40 and report["companies_enriched"] > 0
    assert report["contacts_per_company"] > 1
    assert report["sink_count"] == report["sent"] > 0  # every send recorded, nothing sent twice
    assert report["max_emails_per_day"] <= 20 and report["emails_per_day"][0] == 20
    assert report["operations_past_sla"] == 0 and report["repeated_domain_rate"] <= 0.005
    assert set(report["stage_seconds"]) >= {"enrich", "send", "search + collect + ingest"}


def test_bench_help() -> None:
    result = CliRunner().invoke(app, ["bench", "month", "--help"])
    assert result.exit_code == 0 and "--days" in result.output
