# Quick start: `make serve`, `make test`. Only python3 and make are needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 3000
HOST ?= 127.0.0.1
STAMP := $(VENV)/.installed-stamp

.PHONY: install serve migrate test lint format bench clean

# The clickhouse extra (chdb, half a gigabyte) is not installed here, so that `make serve`
# stays quick: `.ci/run` adds it, and the event store tests then run on ClickHouse too.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/meterbill serve --host $(HOST) --port $(PORT)

migrate: $(STAMP)
	$(BIN)/meterbill migrate

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

test: lint
	$(BIN)/pytest -q -n auto --dist loadfile

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache build src/*.egg-info
