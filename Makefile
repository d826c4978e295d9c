# Calendo: `make run` serves on 127.0.0.1:8000 (SQLite), `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: install run run-cluster migrate test test-sqlite test-postgres crash-test lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

run: install
	$(BIN)/python -m calendo serve

run-cluster: install
	bash scripts/run-cluster.sh

migrate: install
	$(BIN)/python -m calendo migrate

# The whole suite on SQLite with in-process backends, then again on PostgreSQL + Redis when
# CALENDO_TEST_POSTGRES_URL and CALENDO_TEST_REDIS_URL are both set.
test: install
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$CALENDO_TEST_POSTGRES_URL" ] && [ -n "$$CALENDO_TEST_REDIS_URL" ]; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL + Redis run skipped: CALENDO_TEST_POSTGRES_URL / CALENDO_TEST_REDIS_URL unset"; \
	fi

test-sqlite: install
	CALENDO_TEST_BACKEND=sqlite $(BIN)/pytest

test-postgres: install
	CALENDO_TEST_BACKEND=postgres $(BIN)/pytest

# Kill a real server with SIGKILL under write load, restart it, check nothing acknowledged is
# lost (also run, briefly, by the suite). Pass ARGS="--database-url postgresql+asyncpg://..."
crash-test: install
	$(BIN)/python scripts/crash_test.py $(ARGS)

lint: install
	$(BIN)/ruff check calendo tests bench
	$(BIN)/ruff format --check calendo tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format calendo tests bench
	$(BIN)/ruff check --fix calendo tests bench

bench: install
	$(BIN)/python -m bench
	$(BIN)/python -m bench.fairness --output bench/results/fairness.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
