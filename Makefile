# Two commands: `make up` (set up, generate data, materialize, serve the UI) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 3000
# Where links printed by `mesh review` point: the UI `make up` serves, unless set already.
export MESH_UI_URL ?= http://$(HOST):$(PORT)
# Share of operational records made defective on purpose, so quarantine and SLOs have work to show.
DEFECTS ?= 0.02
export DAGSTER_HOME := $(CURDIR)/.mesh/dagster
export MESH_PROJECT_DIR := $(CURDIR)
# One "planned" event per product and run instead of one per partition: a backfill of years of
# daily partitions would otherwise spend minutes writing them before any work starts.
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS := true

.PHONY: up test install system-deps data materialize serve bench lint clean

# uv resolves and installs the same packages as pip does, compiled to bytecode as pip compiles them
# (where PYTHONDONTWRITEBYTECODE is set, as on CI, nothing else would: every process would compile
# Dagster anew), in a third of the time: 50 s against 144 s on a fresh clone here. pip only fetches uv.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $@

install: $(BIN)/.installed

$(DAGSTER_HOME)/dagster.yaml: deploy/local/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp deploy/local/dagster.yaml $@

data: install
	$(BIN)/mesh operational generate --defect-rate $(DEFECTS)

materialize: data $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/mesh materialize

# `dg dev -w` serves workspace.yaml's seven locations as `dagster dev` did, without its deprecation
# warning; a dg.toml workspace would need one project folder per domain (see the README).
serve: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dg dev -w workspace.yaml -h $(HOST) -p $(PORT)

up: materialize
	$(MAKE) serve

# Servers the tests need (PostgreSQL, Chromium) come from Debian packages; installed when missing.
system-deps:
	@scripts/system-deps.sh

# The suite runs on both cores (pytest-xdist), a test file per worker: module fixtures are not
# built twice. `.venv/bin/pytest -m "not slow"` runs the fast subset (no servers or processes).
# The Python packages and the Debian ones install side by side (both mostly wait on downloads).
test:
	$(MAKE) --no-print-directory -j2 install system-deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mesh lint
	$(BIN)/pytest -n 2 --dist loadfile --durations=20

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

bench: install
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf .mesh test-artifacts
