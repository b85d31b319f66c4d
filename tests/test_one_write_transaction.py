"""One way to open a transaction (issue 19): outside `leadgen/db`, the product opens none of its own.

Writes go through `leadgen.db.write_scope`, reads through `leadgen.db.read_scope`; a savepoint
(`session.begin_nested()`) inside one of them is fine. This walks every product module with `ast` and fails on a
`Session(...)`/`sessionmaker(...)` built, or a `.begin()`/`.commit()` called, anywhere else.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("leadgen", "tasks", "flows", "infra", "leadgen_sandbox", "leadgen_bench")
OWNER = "leadgen/db/"
BUILDERS = {"Session", "sessionmaker"}
CALLS = {"begin", "commit"}


def transaction_openings(root: Path = ROOT) -> list[str]:
    """`file:line call` for every session built or transaction begun/committed outside leadgen/db."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            name = path.relative_to(root).as_posix()
            if name.startswith(OWNER):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                if isinstance(func, ast.Name) and func.id in BUILDERS:
                    found.append(f"{name}:{node.lineno} {func.id}()")
                elif isinstance(func, ast.Attribute) and func.attr in CALLS | BUILDERS:
                    if (
                        func.attr == "Session"
                        and isinstance(func.value, ast.Name)
                        and func.value.id == "requests"
                    ):
                        continue  # an HTTP session (the Sheets client), not a database one
                    found.append(f"{name}:{node.lineno} .{func.attr}()")
    return found


def test_the_product_opens_transactions_only_through_leadgen_db() -> None:
    assert transaction_openings() == [], "use leadgen.db.write_scope (writes) or read_scope (reads)"


def test_the_check_sees_a_session_opened_by_hand(tmp_path: Path) -> None:
    (tmp_path / "leadgen" / "db").mkdir(parents=True)
    (tmp_path / "leadgen" / "db" / "engine.py").write_text("Session(engine).begin()\n")
    (tmp_path / "leadgen" / "stage.py").write_text(
        "with Session(engine) as s, s.begin():\n    s.commit()\nrequests.Session()\n"
    )
    assert transaction_openings(tmp_path) == [
        "leadgen/stage.py:1 Session()",
        "leadgen/stage.py:1 .begin()",
        "leadgen/stage.py:2 .commit()",
    ]
