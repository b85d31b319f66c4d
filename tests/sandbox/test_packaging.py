"""The harness installs with a checkout (`pip install -e '.[dev]'`, what `make demo` runs) and carries its data
files; the product's packages alone (what the Dockerfile copies) make an install without it."""

from __future__ import annotations

import shutil
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from setuptools import find_packages

from leadgen_sandbox.stack import DEMO_NICHES, DEMO_OFFER

ROOT = Path(__file__).resolve().parents[2]
TOOL = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
HARNESS = {"leadgen_sandbox", "leadgen_bench"}
PRODUCT = ("leadgen", "tasks", "flows", "infra")


def _tops(root: Path) -> set[str]:
    return {
        name.partition(".")[0]
        for name in find_packages(str(root), include=TOOL["packages"]["find"]["include"])
    }


def test_a_checkout_installs_the_harness() -> None:
    assert _tops(ROOT) == set(PRODUCT) | HARNESS


def test_the_product_alone_installs_without_the_harness(tmp_path: Path) -> None:
    for package in PRODUCT:  # the Dockerfile's COPY lines
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    assert _tops(tmp_path) == set(PRODUCT)


def test_the_demo_files_are_package_data() -> None:
    patterns = TOOL["package-data"]["leadgen_sandbox"]
    for name in (DEMO_NICHES, DEMO_OFFER):
        assert (ROOT / "leadgen_sandbox" / name).is_file()
        assert any(fnmatch(name, pattern) for pattern in patterns), f"{name} is not package data"
