# cart-relapse: `make demo` runs the whole job on embedded defaults; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/cart-relapse
STAMP := $(VENV)/.installed
DATA := data
STORE := $(DATA)/store.duckdb
SEED ?= 7
PATIENTS ?= 5000
export MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/$(DATA)/mlflow.db
export MPLBACKEND := Agg

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast lint docs docs-anchors bench ui clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check "uv==0.13.9" || $(VENV)/bin/pip install -q uv
	$(VENV)/bin/uv pip install -q --python $(PY) -r requirements.lock
	$(VENV)/bin/uv pip install -q --python $(PY) --no-deps -e .
	touch $@

install: $(STAMP) ## create .venv and install the pinned dependencies

demo: $(STAMP) ## synthetic registry -> ingest -> features (end to end, on embedded defaults)
	@mkdir -p $(DATA)
	$(CLI) demo --patients $(PATIENTS) --seed $(SEED) --data-dir $(DATA)

test: $(STAMP) ## all tests, slow ones included (what CI runs)
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: $(STAMP) ## tests without the slow ones
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow"

lint: $(STAMP) ## ruff
	$(VENV)/bin/ruff check features models training serving cart_relapse tests bench docs/gen

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
