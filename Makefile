# Two commands for a new user: `make run` (set up and serve the demo) and `make test` (set up and run the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NHSUK := node_modules/nhsuk-frontend/dist/nhsuk
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test assets db clean

install: $(VENV)/.installed static/assets/.built db

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

# The NHS.UK frontend's built CSS, JS and images, copied from the npm package (never committed).
static/assets/.built: node_modules/.package-lock.json
	rm -rf static/assets && mkdir -p static/assets
	cp $(NHSUK)/nhsuk-frontend.min.css $(NHSUK)/nhsuk-frontend.min.js static/assets/
	cp -R $(NHSUK)/assets/. static/assets/
	touch $@

assets: static/assets/.built

db: $(VENV)/.installed
	$(BIN)/dps db upgrade

run: install
	$(BIN)/dps seed-demo --if-empty
	$(BIN)/dps serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules static/assets var
