"""The one report shape (issue 19): `ItemError` and `report_dict`, and the write/read transaction scopes."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from leadgen.db import Base, OptOut, OptOutKind, make_engine, read_scope, write_scope
from leadgen.stage_report import ItemError, StageReport, report_dict

ROOT = Path(__file__).resolve().parents[1]


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


ERRORS_ANNOTATION = "tuple[ItemError, ...]"


def _is_dataclass(node: ast.ClassDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if ast.unparse(target) in ("dataclass", "dataclasses.dataclass"):
            return True
    return False


def _reports(root: Path = ROOT) -> dict[tuple[str, str], str | None]:
    """(file, class) → the annotation of `errors` (None when absent) of every dataclass named `*Report` under
    leadgen/; read from the source (no import: the CLI's `__main__` and the sandbox would run)."""
    found: dict[tuple[str, str], str | None] = {}
    for path in sorted((root / "leadgen").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Report") and _is_dataclass(node):
                errors = [
                    ast.unparse(item.annotation)
                    for item in node.body
                    if isinstance(item, ast.AnnAssign) and ast.unparse(item.target) == "errors"
                ]
                found[(path.relative_to(root).as_posix(), node.name)] = errors[0] if errors else None
    return found


def _item_error_sources(root: Path = ROOT) -> dict[str, str]:
    """file → where it takes `ItemError` from (`defines` for a class of its own), for every file that has one."""
    sources: dict[str, str] = {}
    for path in sorted((root / "leadgen").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == "ItemError":
                sources[path.relative_to(root).as_posix()] = "defines"
            elif isinstance(node, ast.ImportFrom) and any(a.name == "ItemError" for a in node.names):
                sources.setdefault(path.relative_to(root).as_posix(), node.module or "")
    return sources


def test_every_stage_report_carries_item_errors() -> None:
    reports = _reports()
    assert ("leadgen/contacts/enrich.py", "EnrichReport") in reports  # the walk finds them
    wrong = {key: annotation for key, annotation in reports.items() if annotation != ERRORS_ANNOTATION}
    assert wrong == {}, f"give these `errors: {ERRORS_ANNOTATION}`"


def test_there_is_one_item_error() -> None:
    sources = _item_error_sources()
    assert {file for file, source in sources.items() if source == "defines"} == {"leadgen/stage_report.py"}
    reports = {file for file, _ in _reports()}
    assert {file for file in reports if sources.get(file) != "leadgen.stage_report"} == set()


def test_the_walk_reads_annotations(tmp_path: Path) -> None:
    (tmp_path / "leadgen").mkdir()
    (tmp_path / "leadgen" / "m.py").write_text(
        "from dataclasses import dataclass\n"
        "from leadgen.stage_report import ItemError\n\n"
        "@dataclass(frozen=True)\nclass GoodReport:\n    errors: tuple[ItemError, ...] = ()\n\n"
        "@dataclass\nclass BadReport:\n    errors: list[ItemError]\n\n"
        "@dataclass\nclass BareReport:\n    done: int = 0\n\n"
        "class NotADataclassReport:\n    pass\n"
    )
    assert _reports(tmp_path) == {
        ("leadgen/m.py", "GoodReport"): ERRORS_ANNOTATION,
        ("leadgen/m.py", "BadReport"): "list[ItemError]",
        ("leadgen/m.py", "BareReport"): None,
    }
    assert _item_error_sources(tmp_path) == {"leadgen/m.py": "leadgen.stage_report"}
