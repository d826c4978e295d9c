# Calendo: `make run` serves on 127.0.0.1:8000 (SQLite), `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The stamps carry the checksum of pyproject.toml + constraints.txt: a change to either
# reinstalls. Serving needs only the runtime dependencies (`make install`); the suite, the
# linters and the benchmarks add the dev extras (`make install-dev`), each with its own stamp.
SUM := $(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
SERVE_STAMP := $(VENV)/.installed-serve-$(SUM)
DEV_STAMP := $(VENV)/.installed-dev-$(SUM)
# uv (pinned in constraints.txt, installed into the venv by pip) does the installing: it
# fetches and links in parallel, a few seconds where pip took a minute.
UV_INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python \
	-c constraints.txt --build-constraints constraints.txt

.PHONY: install install-dev venv ical-interop-venv run run-cluster migrate test test-sqlite test-fast-path-off test-postgres crash-test rehearsal lint format bench check-deploy clean

install: $(SERVE_STAMP)

install-dev: $(DEV_STAMP)

# The venv and the uv in it. The interpreter's own pip installs uv straight into a venv made
# without pip (ensurepip alone would take seconds); where that pip is missing or too old, the
# venv gets a pip of its own for the job.
PIP_INSTALL_UV := install --quiet --disable-pip-version-check -c constraints.txt uv
venv:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(BIN)/uv || { \
		{ $(PYTHON) -m venv --without-pip $(VENV) && \
		  $(PYTHON) -m pip --python $(BIN)/python $(PIP_INSTALL_UV); } 2>/dev/null || \
		{ $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip $(PIP_INSTALL_UV); }; }

$(SERVE_STAMP): pyproject.toml constraints.txt
	$(MAKE) --no-print-directory venv
	$(UV_INSTALL) -e . uv
	rm -f $(VENV)/.installed-serve-* && touch $@

# The dev extras include every runtime dependency, so this also satisfies `make install`.
$(DEV_STAMP): pyproject.toml constraints.txt
	$(MAKE) --no-print-directory venv
	$(UV_INSTALL) -e '.[dev]' uv
	rm -f $(VENV)/.installed-* && touch $@ $(SERVE_STAMP)

# The second iCalendar library of tests/ical/test_interop.py, whose pins clash with ours
# (python-dateutil < 3): a venv of its own, from tests/ical/interop/constraints.txt (every
# package pinned), installed by the uv of the project's venv; reinstalled when that file changes.
ICAL_VENV ?= .venv-ical-interop
ICAL_CONSTRAINTS := tests/ical/interop/constraints.txt
ICAL_STAMP := $(ICAL_VENV)/.installed-$(shell cksum < $(ICAL_CONSTRAINTS) | cut -d' ' -f1)
ical-interop-venv: $(ICAL_STAMP)

$(ICAL_STAMP): $(ICAL_CONSTRAINTS)
	$(MAKE) --no-print-directory venv
	test -x $(ICAL_VENV)/bin/python || $(PYTHON) -m venv --without-pip $(ICAL_VENV)
	$(BIN)/uv pip install --quiet --python $(ICAL_VENV)/bin/python -r $(ICAL_CONSTRAINTS)
	rm -f $(ICAL_VENV)/.installed-* && touch $@

run: install
	$(BIN)/python -m calendo serve

run-cluster: install
	bash scripts/run-cluster.sh

migrate: install
	$(BIN)/python -m calendo migrate

# The whole suite on SQLite with in-process backends, once more on SQLite with the fast path
# off (aiosqlite, every statement through Connection.execute: both paths proven equal), then on
# PostgreSQL + Redis when CALENDO_TEST_POSTGRES_URL and CALENDO_TEST_REDIS_URL are both set.
test: install-dev
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-fast-path-off
	@if [ -n "$$CALENDO_TEST_POSTGRES_URL" ] && [ -n "$$CALENDO_TEST_REDIS_URL" ]; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL + Redis run skipped: CALENDO_TEST_POSTGRES_URL / CALENDO_TEST_REDIS_URL unset"; \
	fi

test-sqlite: install-dev
	CALENDO_TEST_BACKEND=sqlite $(BIN)/pytest

test-fast-path-off: install-dev
	CALENDO_TEST_BACKEND=sqlite CALENDO_FAST_PATH=off $(BIN)/pytest

test-postgres: install-dev
	CALENDO_TEST_BACKEND=postgres $(BIN)/pytest

# Kill a real server with SIGKILL under write load, restart it, check nothing acknowledged is
# lost (also run, briefly, by the suite). Pass ARGS="--database-url postgresql+asyncpg://..."
crash-test: install-dev
	$(BIN)/python scripts/crash_test.py $(ARGS)

# Three servers behind nginx (deploy/nginx.conf) on PostgreSQL + Redis, one SIGKILLed and one
# SIGTERMed under write load and WebSocket feeds; prints the figures (docs/operations.md).
REHEARSAL_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/calendo_rehearsal
REHEARSAL_REDIS_URL ?= redis://127.0.0.1:6379/14
rehearsal: install-dev
	$(BIN)/python scripts/rehearsal.py --database-url $(REHEARSAL_DATABASE_URL) \
		--redis-url $(REHEARSAL_REDIS_URL) $(ARGS)

lint: install-dev
	$(BIN)/ruff check calendo tests bench
	$(BIN)/ruff format --check calendo tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff format calendo tests bench
	$(BIN)/ruff check --fix calendo tests bench

# The Dockerfile, deploy/compose.yaml, deploy/nginx.conf and deploy/k8s/, checked offline
# (hadolint, yamllint, the compose-spec and Kubernetes schemas, nginx -t, tests/deploy).
check-deploy: install-dev
	BIN=$(BIN) bash deploy/check.sh

bench: install-dev
	$(BIN)/python -m bench
	$(BIN)/python -m bench.fairness --output bench/results/fairness.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
