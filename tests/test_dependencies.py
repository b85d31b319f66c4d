"""Declared dependencies match imports (issue 19): every third-party package the product imports is declared in
pyproject.toml, and every declared runtime dependency is imported (or listed below with the reason it is not).

The test harness (the sandbox and the month benchmark) is not the product: what it alone needs sits in the `sandbox`
extra, and the product never imports the harness."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from tests.support.source import parse_file

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("leadgen", "tasks", "flows", "infra")
HARNESS = ("leadgen_sandbox", "leadgen_bench")
FIRST_PARTY = PRODUCT + HARNESS
# Declared runtime dependencies that no product module imports, and why they are still needed.
NOT_IMPORTED = {
    "python-multipart": "Starlette imports it to parse the one-click unsubscribe form (request.form())",
}


def _canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(group: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = project["dependencies"] if group is None else project["optional-dependencies"][group]
    names = {_canonical(re.match(r"[A-Za-z0-9._-]+", spec).group(0)) for spec in specs}  # type: ignore[union-attr]
    return names - {"leadgen"}  # an extra that pulls in another extra (`leadgen[sandbox]`)


def _absolute_imports(path: Path) -> list[str]:
    """Every module an absolute import in `path` names (`import a.b` -> `a.b`, `from a.b import c` -> `a.b`), at any
    depth."""
    names: list[str] = []
    for node in ast.walk(parse_file(path)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _imported_top_levels(packages: tuple[str, ...] = PRODUCT) -> dict[str, set[str]]:
    """Top-level third-party module -> the files of `packages` importing it (absolute imports, at any depth)."""
    found: dict[str, set[str]] = {}
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            for name in _absolute_imports(path):
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _distributions(imports: dict[str, set[str]]) -> dict[str, set[str]]:
    mapping = packages_distributions()
    return {top: {_canonical(d) for d in mapping.get(top, [])} for top in imports}


def test_every_imported_package_is_declared() -> None:
    declared = _declared()
    imports = _imported_top_levels()
    undeclared = {
        top: sorted(imports[top])[:3]
        for top, dists in _distributions(imports).items()
        if not dists & declared
    }
    assert not undeclared, f"imported but not in [project.dependencies]: {undeclared}"


def test_every_declared_dependency_is_used() -> None:
    used = set().union(*_distributions(_imported_top_levels()).values())
    unused = _declared() - used - set(NOT_IMPORTED)
    assert not unused, (
        f"declared in [project.dependencies] but imported nowhere in {PRODUCT}: {sorted(unused)}"
    )
    assert set(NOT_IMPORTED) <= _declared(), "NOT_IMPORTED names a package that is no longer declared"


def test_the_scanner_sees_lazy_imports() -> None:
    """Imports inside functions count too (the CLI imports its libraries when a command runs)."""
    imports = _imported_top_levels()
    assert "sqlalchemy" in imports and any(p.startswith("leadgen/cli/") for p in imports["sqlalchemy"])
    assert "idna" in imports and "prefect" in imports


def test_the_harness_imports_only_runtime_and_sandbox_packages() -> None:
    declared = _declared() | _declared("sandbox")
    imports = _imported_top_levels(HARNESS)
    undeclared = {
        top: sorted(imports[top])[:3]
        for top, dists in _distributions(imports).items()
        if not dists & declared
    }
    assert not undeclared, (
        f"the harness imports these, declared in neither the runtime deps nor `sandbox`: {undeclared}"
    )


def test_the_sandbox_extra_holds_what_only_the_harness_needs() -> None:
    """Each package of the `sandbox` extra is imported by the harness and by no product module (else it would be a
    runtime dependency); the `dev` and `bench` extras include the sandbox."""
    sandbox = _declared("sandbox")
    harness = set().union(*_distributions(_imported_top_levels(HARNESS)).values())
    product = set().union(*_distributions(_imported_top_levels()).values())
    assert sandbox <= harness, (
        f"in the `sandbox` extra but not imported by {HARNESS}: {sorted(sandbox - harness)}"
    )
    assert not sandbox & product, (
        f"imported by the product, so a runtime dependency: {sorted(sandbox & product)}"
    )
    assert not sandbox & _declared(), "a package is both a runtime dependency and in the `sandbox` extra"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    for extra in ("dev", "bench"):
        assert "leadgen[sandbox]" in extras[extra], f"the `{extra}` extra does not include the sandbox"


def test_the_product_never_imports_the_harness() -> None:
    """The runtime image has no harness: the CLI names its commands as strings (leadgen/cli/lazy.py), nothing more."""
    found: dict[str, list[str]] = {}
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            names = [name for name in _absolute_imports(path) if name.partition(".")[0] in HARNESS]
            if names:
                found.setdefault(str(path.relative_to(ROOT)), []).extend(names)
    assert found == {}


def test_the_runtime_image_does_not_ship_the_harness() -> None:
    """The Dockerfile copies the product's packages one by one and none of the harness; .dockerignore keeps the
    harness out of the build context too."""
    copies = [line.split() for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()]
    sources = {word.rstrip("/") for words in copies if words[:1] == ["COPY"] for word in words[1:-1]}
    assert {"leadgen", "tasks", "flows", "infra"} <= sources
    assert not sources & set(HARNESS) and "." not in sources
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert set(HARNESS) <= set(ignored)
