"""Every outreach report has the shared shape (issue 19): a frozen dataclass whose `errors` is a tuple of
`leadgen.stage_report.ItemError`, readable through `report_dict`."""

from __future__ import annotations

import dataclasses

import pytest

from leadgen.outreach.forget import ForgetReport
from leadgen.outreach.optout import ImportReport
from leadgen.outreach.outcomes import DraftReport, QueueReport, SendReport
from leadgen.stage_report import ItemError, StageReport, report_dict

REPORTS = [
    DraftReport(),
    QueueReport(),
    SendReport(),
    ImportReport(),
    ForgetReport("0" * 64, 0, 0, 0, 0),
]


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: type(r).__name__)
def test_outreach_reports_are_frozen_stage_reports_with_a_tuple_of_item_errors(report: object) -> None:
    assert isinstance(report, StageReport)
    fields = {f.name: f for f in dataclasses.fields(report)}  # type: ignore[arg-type]
    assert fields["errors"].type == "tuple[ItemError, ...]"
    assert report.errors == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.errors = ()  # type: ignore[misc]
    # no list left in a frozen report: its value could still change after it was returned
    assert not any(isinstance(getattr(report, name), list) for name in fields)
    with_error = dataclasses.replace(report, errors=(ItemError("message", "opted out", id=3, key="a@b.ru"),))  # type: ignore[type-var]
    assert report_dict(with_error)["errors"] == [
        {"item": "message", "reason": "opted out", "id": 3, "key": "a@b.ru"}
    ]
