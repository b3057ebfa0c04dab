# The two commands: `make run` starts the platform, `make test` runs every test.
# Both set up whatever is missing first (the virtualenv, the packages, the local servers).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PACKAGES := libs/common $(sort $(wildcard services/*)) cli sdk/python

.PHONY: run test faults setup backing-services console sdk-js browser pgbouncer lint openapi bench soak clean

$(STAMP): constraints.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	touch $@

setup: $(STAMP)

# The web console: installed from its lock file, built again only when its sources change.
CONSOLE_SOURCES := $(shell find console/src console/public -type f 2>/dev/null) $(addprefix console/,index.html vite.config.ts precompress.ts tsconfig.json package.json)

console/node_modules/.installed: console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $@

console/dist/index.html: console/node_modules/.installed $(CONSOLE_SOURCES)
	cd console && npm run --silent build -- --logLevel warn

console: console/dist/index.html

# The TypeScript host kit (sdk/js): installed from its lock file, built to ESM and CJS when its sources change.
SDK_JS_SOURCES := $(shell find sdk/js/src sdk/js/scripts -type f 2>/dev/null) $(addprefix sdk/js/,package.json tsconfig.json tsconfig.esm.json tsconfig.cjs.json)

sdk/js/node_modules/.installed: sdk/js/package-lock.json
	cd sdk/js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

sdk/js/dist/esm/index.js: sdk/js/node_modules/.installed $(SDK_JS_SOURCES)
	cd sdk/js && npm run --silent build

sdk-js: sdk/js/dist/esm/index.js

backing-services:
	@scripts/backing-services

# The console's browser tests drive Debian's Chromium: Playwright downloads no browser.
export MPDP_CHROMIUM ?= /usr/lib/chromium/chromium

browser:
	@test -x $(MPDP_CHROMIUM) || { echo "installing Chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: setup backing-services console
	$(BIN)/mpdpctl run

test: setup backing-services console sdk-js browser
	cd console && npm test --silent
	cd sdk/js && node --test test/
	$(BIN)/pytest

# Dependencies stopped and processes killed under load: run alone, never beside another test run.
faults: setup backing-services pgbouncer
	$(BIN)/pytest tests/faults

# The fault suite runs the platform behind PgBouncer too.
pgbouncer:
	@command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || { echo "installing PgBouncer for the fault suite"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; }

# ruff's rules and format, and the type checker (its settings are in pyproject.toml)
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# docs/openapi.json again from the code, after an endpoint or a schema changed
openapi: setup
	$(BIN)/python scripts/openapi.py

bench: setup backing-services
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/events.py
	$(BIN)/python bench/upload.py
	$(BIN)/python bench/delivery.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/analytics.py
	$(BIN)/python bench/release_health.py
	$(BIN)/python bench/host_sdk.py
	$(BIN)/python bench/footprint.py
	$(BIN)/python bench/sourcemaps.py
	$(BIN)/python bench/webhooks.py

soak: setup backing-services
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) var console/node_modules console/dist sdk/js/node_modules sdk/js/dist
