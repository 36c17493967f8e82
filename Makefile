# cart-relapse: `make demo` runs the whole job on embedded defaults; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/cart-relapse
STAMP := $(VENV)/.installed
PLATFORM_STAMP := $(VENV)/.installed-platform
UV_VERSION := 0.13.9
DATA := data
STORE := $(DATA)/store.duckdb
SEED ?= 7
PATIENTS ?= 5000
export MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/$(DATA)/mlflow.db
export MPLBACKEND := Agg

.DEFAULT_GOAL := help
.PHONY: help install lock browser demo test test-fast lint docs docs-anchors bench ui clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# requirements.lock: runtime, dev and docs (what the demo and most tests need); requirements-platform.lock:
# the same pins plus the optional Spark and PostgreSQL extras, installed on top for `make test` only.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(VENV)/bin/uv pip install -q --python $(PY) -r requirements.lock
	$(VENV)/bin/uv pip install -q --python $(PY) --no-deps -e .
	touch $@

$(PLATFORM_STAMP): $(STAMP) requirements-platform.lock
	$(VENV)/bin/uv pip install -q --python $(PY) -r requirements-platform.lock
	touch $@

lock: $(STAMP) ## recompile both lock files from pyproject.toml
	$(VENV)/bin/uv pip compile -q pyproject.toml --extra dev --extra docs --python-version 3.11 -o requirements.lock
	$(VENV)/bin/uv pip compile -q pyproject.toml --extra dev --extra docs --extra spark --extra postgres \
		--python-version 3.11 -c requirements.lock -o requirements-platform.lock

install: $(STAMP) ## create .venv and install the pinned dependencies

# The browser test (tests/serving/test_browser.py) drives Debian's chromium with Playwright (the Python package
# comes with the lock); `playwright install` cannot download browsers here. apt needs root, or sudo.
CHROMIUM := /usr/bin/chromium
browser: ## install Debian's chromium (and fonts) for the browser test when it is missing
	@if [ -x $(CHROMIUM) ]; then echo "$(CHROMIUM) is installed"; else \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core fonts-liberation; \
	fi

demo: $(STAMP) ## synthetic registry -> ingest -> features -> train -> serve -> score (end to end, embedded defaults)
	@mkdir -p $(DATA)
	$(CLI) demo --patients $(PATIENTS) --seed $(SEED) --data-dir $(DATA)

test: $(PLATFORM_STAMP) ## all tests, slow ones included (what CI runs)
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: $(PLATFORM_STAMP) ## tests without the slow ones
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow"

# lint needs the platform extras too: mypy reads pyspark's types (serving's Spark engine).
lint: $(PLATFORM_STAMP) ## ruff (rules in pyproject.toml) and its formatter, the import-layer contracts, mypy (strict on models/ and serving/), deptry (imports = declared dependencies)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(VENV)/bin/deptry .

docs: $(STAMP) ## regenerate the reference pages, then build the site offline into site/ (strict)
	$(PY) -m docs.gen
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

docs-anchors: $(STAMP) ## regenerate the calibration-anchor table (30,000 synthetic patients)
	$(PY) -m docs.gen --only-anchors

bench: $(STAMP) ## feature-store benchmark at 10k, 100k and 1M patients (~20 min, ~3 GB of temp disk)
	$(PY) bench/feature_store.py

ui: $(STAMP) ## MLflow UI on the demo's tracking store (http://127.0.0.1:5000)
	$(VENV)/bin/mlflow ui --backend-store-uri "$(MLFLOW_TRACKING_URI)" --host 127.0.0.1 --port 5000

clean: ## remove the venv, generated data and the built site
	rm -rf $(VENV) $(DATA) site
