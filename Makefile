# Two commands for a new user: `make run` (set up and serve the demo) and `make test` (set up and run the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NHSUK := node_modules/nhsuk-frontend/dist/nhsuk
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint bench assets db browser clean

install: $(VENV)/.installed static/assets/.built db

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

# The NHS.UK frontend's built CSS, JS and images, and Swagger UI for the API reference, copied from the npm
# packages (never committed).
static/assets/.built: node_modules/.package-lock.json
	rm -rf static/assets && mkdir -p static/assets
	cp $(NHSUK)/nhsuk-frontend.min.css $(NHSUK)/nhsuk-frontend.min.js static/assets/
	cp -R $(NHSUK)/assets/. static/assets/
	mkdir -p static/assets/swagger-ui
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css static/assets/swagger-ui/
	touch $@

assets: static/assets/.built

db: $(VENV)/.installed
	$(BIN)/dps db upgrade

run: install
	$(BIN)/dps seed-demo --if-empty
	$(BIN)/dps reindex --if-empty
	$(BIN)/dps serve --host $(HOST) --port $(PORT)

# Debian's chromium drives the browser journeys (Playwright cannot download its own browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The suite is CPU-bound: one pytest worker per core (TEST_WORKERS=0 runs it in one process, for debugging).
# loadgroup hands tests out one by one like load, but runs the tests of one xdist_group on one worker, one after
# another (the 50-connection PostgreSQL races).
TEST_WORKERS ?= auto

# ruff and mypy, configured in pyproject.toml; `make test` runs them first, so a finding fails the build.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: install browser lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# Benchmarks: never part of `make test`. wrk is the HTTP load generator.
bench: install
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules static/assets var
