# pk8opt — `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CONFIG ?= configs/balanced_arb.yaml

.DEFAULT_GOAL := help
.PHONY: help install test test-all lint bench sweep ui record

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install pk8opt with its dev tools

test: $(STAMP) ## run the test suite (what CI runs)
	$(BIN)/python -m pytest -q

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check pk8opt tests benchmarks
	$(BIN)/ruff format --check pk8opt tests benchmarks
	$(BIN)/mypy pk8opt

bench: $(STAMP) ## run the benchmarks and print the figures
	$(BIN)/python -m benchmarks

sweep: $(STAMP) ## the main job: sweep balanced_arb over the sample recordings
	$(BIN)/pk8opt sweep $(CONFIG)

ui: $(STAMP) ## open the MLflow UI on the local tracking store
	$(BIN)/pk8opt ui

record: $(STAMP) ## record the live BTC/ETH/SOL/XRP 15-minute markets into recordings/
	$(BIN)/pk8opt record --symbols BTC,ETH,SOL,XRP --out recordings/
