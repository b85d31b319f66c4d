"""The one batch-tag rule: the same answer from the input column, the CLI's --batch-tag and the flow parameters."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from leadgen.batch_tags import batch_tag_problem, check_batch_tag
from leadgen.cli import app
from leadgen.planning.rows import NicheRow, clean_text, validate_row

GOOD = ["2026-11-a", "партия-1", "spring_2027", "a.b:c", "_x", "-x", "x" * 100]
BAD = ["", "two words", "a/b", "a,b", "x" * 101, "tag\n", "a;b"]


@pytest.mark.parametrize("tag", GOOD)
def test_good_tags(tag: str) -> None:
    assert batch_tag_problem(tag) is None
    assert check_batch_tag(tag) == tag


@pytest.mark.parametrize("tag", BAD)
def test_bad_tags(tag: str) -> None:
    assert batch_tag_problem(tag) is not None
    with pytest.raises(ValueError, match="batch_tag"):
        check_batch_tag(tag)


@pytest.mark.parametrize("tag", GOOD + BAD)
def test_flows_and_the_sheet_agree(tag: str) -> None:
    """Every flow's batch_tag parameter accepts exactly the tags the NICHES_INPUT column accepts."""
    from flows.params import (
        CollectParams,
        EnrichParams,
        OutreachParams,
        PipelineParams,
        PlanParams,
        ReportParams,
        SearchParams,
    )

    row = validate_row({"niche": "стоматология", "city": "Казань", "batch_tag": tag}, row_number=2)
    # the sheet trims a cell first, and an empty cell means "no tag": compare the tags a cell keeps as they are
    compared = tag != "" and clean_text(tag) == tag
    for model in (
        PlanParams,
        SearchParams,
        CollectParams,
        EnrichParams,
        OutreachParams,
        ReportParams,
        PipelineParams,
    ):
        try:
            model(batch_tag=tag)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == (batch_tag_problem(tag) is None), (model.__name__, tag)
        if compared:
            assert accepted == isinstance(row, NicheRow), (model.__name__, tag)


@pytest.mark.parametrize(
    "command",
    [
        ["plan", "--dry-run"],
        ["report"],
        ["export", "domains"],
        ["enrich"],
        ["outreach", "draft"],
        ["outreach", "queue"],
        ["outreach", "send"],
    ],
)
def test_cli_refuses_a_bad_tag_in_one_line(command: list[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    args = [*command, "--batch-tag", "two words"]
    if command[-1] == "domains":
        args += ["--out", str(tmp_path / "d.csv")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "error: --batch-tag 'two words' may only hold letters, digits and . _ : -" in result.output
    assert "Traceback" not in result.output
