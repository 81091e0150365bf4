# The two Quick start commands (README.md) and the checks CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export SENTRAIL_DATABASE_URL ?= sqlite:///./sentrail.db

.PHONY: setup js demo test lint check-migrations bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

# The real JavaScript SDKs and sentry-cli the JS end-to-end tests drive (tests/e2e/test_js_sdks.py,
# tests/e2e/test_js_parity.py), exactly as tests/js/package-lock.json pins them (sentry-cli's
# binary from its npm platform package: no postinstall download); reinstalled when the lockfile
# is newer. Without Node/npm it is skipped and those tests skip with the reason (CI=true fails
# them instead).
JS := tests/js
NPM ?= npm

$(JS)/node_modules/.package-lock.json: $(JS)/package-lock.json $(JS)/package.json
	$(NPM) ci --prefix $(JS) --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

js:
	@if command -v node >/dev/null 2>&1 && command -v $(NPM) >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(JS)/node_modules/.package-lock.json; \
	else \
		echo "Node/npm not installed: the JS SDK tests will skip (CI=true fails them)"; \
	fi

demo: setup
	$(BIN)/sentrail demo

test: setup js
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -c pyproject.toml -r store web rules reads collector correlator dashboard shop sentrail -q

bench: setup
	$(BIN)/python -m bench.ingest
