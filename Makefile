# The two Quick start commands (README.md) and the checks CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export SENTRAIL_DATABASE_URL ?= sqlite:///./sentrail.db

.PHONY: setup demo test lint check-migrations bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/sentrail demo

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -c pyproject.toml -r store web rules reads collector correlator dashboard shop sentrail -q

bench: setup
	$(BIN)/python -m bench.ingest
