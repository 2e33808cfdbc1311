# Two commands do all set-up on a fresh clone: `make run` (index corpus/ and serve it) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run index test chromium bench-index bench-server clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned: it installs a CPU build from local disk; an unpinned torch would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

# Headless Chromium from Debian for the browser test, and a CJK font so its screenshots show Chinese
# (CI runs as root; elsewhere the test skips with a reason).
chromium:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi wqy || { [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei \
		>/dev/null; } || echo "chromium not installed: the browser test will be skipped"

run: $(VENV)/.installed
	$(BIN)/policyqa serve --host $(HOST) --port $(PORT)

index: $(VENV)/.installed
	$(BIN)/policyqa index

test: $(VENV)/.installed-dev chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

bench-index: $(VENV)/.installed
	$(BIN)/python bench/bench_index.py

bench-server: $(VENV)/.installed
	$(BIN)/python bench/bench_server.py

clean:
	rm -rf $(VENV) index
