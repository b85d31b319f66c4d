# leadgen: `make demo` runs the whole pipeline in the sandbox, `make test` runs the test suite.
# Both create .venv and install the project into it when needed.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo bench bench-docs lint format clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

# The whole pipeline in the loopback sandbox through Prefect (ephemeral), then the report; no credentials.
demo: $(STAMP)
	$(VENV)/bin/leadgen demo

# Every benchmark records its figures (JSON Lines) in BENCH_OUT and fails on a missed target; the figures block of
# docs/performance.md is then regenerated from that file, misses included.
BENCH_OUT ?= docs/bench/figures.jsonl

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	rm -f $(BENCH_OUT)
	LEADGEN_BENCH_OUT=$(BENCH_OUT) $(PY) -m pytest tests/perf -p no:cacheprovider -o addopts="" -s; \
		status=$$?; $(PY) -m tests.perf.render $(BENCH_OUT); exit $$status

bench-docs: $(STAMP)
	$(PY) -m tests.perf.render $(BENCH_OUT)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy  # leadgen/ (strict), tasks/, flows/, infra/: [tool.mypy] in pyproject.toml

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
