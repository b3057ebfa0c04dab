# The two commands: `make run` starts the platform, `make test` runs every test.
# Both set up whatever is missing first (the virtualenv, the packages, the local servers).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PACKAGES := libs/common $(sort $(wildcard services/*)) cli

.PHONY: run test setup backing-services lint bench clean

$(STAMP): constraints.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	touch $@

setup: $(STAMP)

backing-services:
	@scripts/backing-services

run: setup backing-services
	$(BIN)/mpdpctl run

test: setup backing-services
	$(BIN)/pytest

# ruff's rules and format, and the type checker (its settings are in pyproject.toml)
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup backing-services
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/events.py
	$(BIN)/python bench/upload.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/analytics.py

clean:
	rm -rf $(VENV) var
