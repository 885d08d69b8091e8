# Offload: `make run` starts everything, `make test` runs the suite. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEPS := $(VENV)/.deps-installed

.PHONY: run test test-slow lint format clean bench vendor

$(DEPS): requirements/base.txt requirements/dev.txt requirements/prod.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt -r requirements/prod.txt
	touch $@

## Web + Celery worker + Celery beat (+ a private Redis unless CELERY_BROKER_REDIS_URL is set).
run: $(DEPS)
	$(BIN)/python -m project.launcher

## The whole suite: unit, integration (real Redis + worker) and browser (Chromium) tests.
test: $(DEPS)
	$(BIN)/python -m pytest

## The soak: thousands of short jobs through a real web server, Redis and two worker processes.
test-slow: $(DEPS)
	$(BIN)/python -m pytest tests/soak -m slow -s --timeout 1800

## Every benchmark against its baseline in the same run: prints the table, writes docs/benchmarks.md
## (about 12 minutes; `python -m tests.benchmarks --only NAME` runs one).
bench: $(DEPS)
	$(BIN)/python -m tests.benchmarks

## Refresh the vendored front-end files from the npm registry, at the pinned versions (needs npm;
## nothing is fetched when the app or the tests run): axe-core, which the browser tests inject.
AXE_VERSION := 4.14.1
vendor:
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd "$$tmp" && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && tar xzf axe-core-$(AXE_VERSION).tgz); \
	cp "$$tmp/package/axe.min.js" tests/browser/vendor/axe-core-$(AXE_VERSION).min.js; \
	cp "$$tmp/package/LICENSE" tests/browser/vendor/axe-core-LICENSE.txt
	cd tests/browser/vendor && sha384sum *.min.js > SHA384SUMS

lint: $(DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEPS)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var/test-* .pytest_cache .ruff_cache
