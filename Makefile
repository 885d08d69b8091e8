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
bench: $(DEPS) .venv-ydata/.installed
	$(BIN)/python -m tests.benchmarks

# ydata-profiling, the CSV profile's baseline, in an environment of its own (pandas < 3, NumPy < 2.4).
.venv-ydata/.installed: requirements/bench-ydata.txt
	test -x .venv-ydata/bin/python || $(PYTHON) -m venv .venv-ydata
	.venv-ydata/bin/python -m pip install --quiet -r requirements/bench-ydata.txt
	touch $@

## Refresh the vendored front-end files from the npm registry, at the pinned versions (needs npm;
## nothing is fetched when the app or the tests run): htmx 4 and its SSE extension, served from
## static/vendor/ when OFFLOAD_HTMX=4 (their integrity hashes go to static/vendor/htmx-4.json),
## and axe-core, which the browser tests inject.
HTMX4_VERSION := 4.0.1
AXE_VERSION := 4.14.1
vendor:
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd "$$tmp" && npm pack --silent htmx.org@$(HTMX4_VERSION) axe-core@$(AXE_VERSION) >/dev/null \
	  && mkdir htmx axe && tar xzf htmx.org-$(HTMX4_VERSION).tgz -C htmx && tar xzf axe-core-$(AXE_VERSION).tgz -C axe); \
	mkdir -p static/vendor; rm -f static/vendor/htmx-4.*.min.js static/vendor/hx-sse-4.*.min.js; \
	cp "$$tmp/htmx/package/dist/htmx.min.js" static/vendor/htmx-$(HTMX4_VERSION).min.js; \
	cp "$$tmp/htmx/package/dist/ext/hx-sse.min.js" static/vendor/hx-sse-$(HTMX4_VERSION).min.js; \
	cp "$$tmp/htmx/package/LICENSE" static/vendor/htmx-LICENSE.txt; \
	cp "$$tmp/axe/package/axe.min.js" tests/browser/vendor/axe-core-$(AXE_VERSION).min.js; \
	cp "$$tmp/axe/package/LICENSE" tests/browser/vendor/axe-core-LICENSE.txt
	$(PYTHON) -c 'import base64, hashlib, json, sys; v = sys.argv[1]; files = {"htmx": f"vendor/htmx-{v}.min.js", "sse": f"vendor/hx-sse-{v}.min.js"}; \
	  sri = lambda p: "sha384-" + base64.b64encode(hashlib.sha384(open("static/" + p, "rb").read()).digest()).decode(); \
	  json.dump({"version": v, "files": {k: {"path": p, "integrity": sri(p)} for k, p in files.items()}}, open("static/vendor/htmx-4.json", "w"), indent=2)' $(HTMX4_VERSION)
	cd tests/browser/vendor && sha384sum *.min.js > SHA384SUMS

lint: $(DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEPS)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var/test-* .pytest_cache .ruff_cache
