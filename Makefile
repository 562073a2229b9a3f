# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test lint bench load chromium clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(BIN)/python -m vgrad serve --port $(PORT)

# Two phases: everything but the browser tests on TEST_WORKERS processes (pytest-xdist, a file per
# worker at a time), then the browser tests alone, so chromium and the pages they wait for have the
# machine to themselves.
TEST_WORKERS ?= 2
test: $(VENV)/.dev-installed chromium
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --ignore=tests/browser
	$(BIN)/python -m pytest tests/browser

lint: $(VENV)/.dev-installed
	$(BIN)/python -m ruff check .

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_engine.py

# A class of 30 simulated students over Streamlit's websocket (ARGS="--users 8 --mode browser" for chromium pages).
load: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/load.py $(ARGS)

# Browser tests drive Debian's chromium; install it when missing (CI runs as root).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts
