# pk8opt — `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CONFIG ?= configs/balanced_arb.yaml

.DEFAULT_GOAL := help
.PHONY: help install test test-all lint bench sweep ui record pg-server browser

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install pk8opt with its dev tools

test: $(STAMP) pg-server browser ## run the test suite (what CI runs)
	$(BIN)/python -m pytest -q -rs

pg-server: ## install Debian's postgresql for the tests when missing (they start their own cluster)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing PostgreSQL for the tests: apt-get install postgresql"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    echo "installing PostgreSQL for the tests: sudo apt-get install postgresql"; \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "no PostgreSQL server, and apt-get needs root here: the PostgreSQL tests will be skipped"; \
	  fi; }

browser: ## install Debian's chromium for the browser tests when missing
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Chromium for the browser tests: apt-get install chromium"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    echo "installing Chromium for the browser tests: sudo apt-get install chromium"; \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "no chromium, and apt-get needs root here: the browser tests will be skipped"; \
	  fi; }

lint: $(STAMP) ## the import contracts (docs/architecture.md), ruff and mypy
	$(BIN)/lint-imports
	$(BIN)/ruff check pk8opt tests benchmarks
	$(BIN)/ruff format --check pk8opt tests benchmarks
	$(BIN)/mypy pk8opt

BENCH_STAMP := $(VENV)/.bench-stamp

$(BENCH_STAMP): $(STAMP)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) pg-server ## run the benchmarks (with hftbacktest beside pk8opt) and print the figures
	$(BIN)/python -m benchmarks

sweep: $(STAMP) ## the main job: sweep balanced_arb over the sample recordings
	$(BIN)/pk8opt sweep $(CONFIG)

ui: $(STAMP) ## open the MLflow UI on the local tracking store
	$(BIN)/pk8opt ui

record: $(STAMP) ## record the live BTC/ETH/SOL/XRP 15-minute markets into recordings/
	$(BIN)/pk8opt record --symbols BTC,ETH,SOL,XRP --out recordings/
