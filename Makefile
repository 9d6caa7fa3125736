# The whole set-up on a fresh machine: `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=
# The suite runs in two pytest-xdist processes (one test waits on a process it started while
# another computes); PYTEST_WORKERS=0 runs it in one.
PYTEST_WORKERS ?= 2

.PHONY: run test lint typecheck unit migrate clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

run: $(STAMP)
	mkdir -p data
	$(BIN)/newsagg migrate
	$(BIN)/newsagg run

migrate: $(STAMP)
	mkdir -p data
	$(BIN)/newsagg migrate

lint: $(DEV_STAMP)
	$(BIN)/ruff check aggregator storage tests bench
	$(BIN)/ruff format --check aggregator storage tests bench
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

unit: $(DEV_STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test: lint typecheck unit

bench: $(DEV_STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# The long fuzz run (not part of `make test`): `make fuzz FUZZ_MINUTES=30`; docs/reliability.md.
FUZZ_MINUTES ?= 30
.PHONY: fuzz
fuzz: $(DEV_STAMP)
	$(BIN)/python -m tests.fuzz.run --minutes $(FUZZ_MINUTES)
