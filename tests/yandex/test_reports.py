"""The Yandex stages report in the shared shape (issue 19): `errors` is a tuple of `stage_report.ItemError`."""

from __future__ import annotations

import json
import typing

import pytest

from leadgen.stage_report import ItemError, StageReport, report_dict
from leadgen.yandex.collect import CollectReport
from leadgen.yandex.rounds import RoundsReport
from leadgen.yandex.submit import SubmitReport

REPORTS = [SubmitReport(in_window=True), CollectReport(), RoundsReport()]


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: type(r).__name__)
def test_each_report_is_a_stage_report(report: StageReport) -> None:
    assert isinstance(report, StageReport)
    assert typing.get_type_hints(type(report))["errors"] == tuple[ItemError, ...]


def test_rounds_collect_the_errors_of_both_steps_as_plain_data() -> None:
    submit = SubmitReport(
        in_window=True, deferred=1, errors=(ItemError("query", "QuotaExceeded", id=3, outcome="retry"),)
    )
    collect = CollectReport(
        failed=1, errors=(ItemError("operation", "bad XML", id=9, outcome="failed, query requeued"),)
    )
    total = RoundsReport().add(submit, collect, still_pending=0).add(None, CollectReport(), still_pending=0)
    assert (total.rounds, total.deferred, total.failed) == (2, 1, 0)  # `failed` counts queries at submit
    data = json.loads(json.dumps(report_dict(total)))
    assert data["errors"] == [
        {"item": "query", "reason": "QuotaExceeded", "id": 3, "outcome": "retry"},
        {"item": "operation", "reason": "bad XML", "id": 9, "outcome": "failed, query requeued"},
    ]
