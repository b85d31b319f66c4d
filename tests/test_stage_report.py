"""The one report shape (issue 19): `ItemError` and `report_dict`, and the write/read transaction scopes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from leadgen.db import Base, OptOut, OptOutKind, make_engine, read_scope, write_scope
from leadgen.stage_report import ItemError, StageReport, report_dict


@dataclass(frozen=True, slots=True)
class _Report:
    done: int = 0
    errors: tuple[ItemError, ...] = field(default_factory=tuple)


def test_report_dict_drops_empty_error_fields() -> None:
    report = _Report(done=2, errors=(ItemError("company", "timeout", id=7, key="firm.ru"),))
    assert isinstance(report, StageReport)
    assert report_dict(report) == {
        "done": 2,
        "errors": [{"item": "company", "reason": "timeout", "id": 7, "key": "firm.ru"}],
    }


def test_report_dict_refuses_what_is_not_a_report_dataclass() -> None:
    with pytest.raises(TypeError, match="not a stage report"):
        report_dict(_Report)  # type: ignore[arg-type]


def test_write_scope_commits_and_read_scope_keeps_nothing(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    Base.metadata.create_all(engine)
    with write_scope(engine) as session:
        session.add(OptOut(kind=OptOutKind.EMAIL, value="a@firm.ru", reason="test"))
    with read_scope(engine) as session:
        session.add(OptOut(kind=OptOutKind.EMAIL, value="b@firm.ru", reason="test"))
        session.flush()
    with read_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(OptOut)) == 1
        kept = session.scalars(select(OptOut)).one()
    assert kept.value == "a@firm.ru"  # still readable after the scope: detached, not expired
