# kb: `make run` sets up and serves a demo instance; `make test` runs the suite;
# `make serve` runs gunicorn against the configured database.
# All three create .venv on first use and reinstall when the pinned dependencies change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
FLASK := $(BIN)/flask --app kb
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=
# pytest-xdist workers: one per core by default; TEST_JOBS=0 runs in this process.
# Each test module stays on one worker, so a module's session-wide setup (the
# browser tests' Chromium and sites) is built once.
TEST_JOBS ?= auto
XDIST := -n $(TEST_JOBS) --dist loadfile
WORKERS ?= 3
BIND ?= 127.0.0.1:8000
NEW_ENOUGH := import sys; sys.exit(sys.version_info < (3, 11))

.PHONY: install run serve test test-fast clean

$(STAMP): setup.cfg pyproject.toml requirements.lock
	@$(PYTHON) -c '$(NEW_ENOUGH)' 2>/dev/null || { \
		echo "kb needs Python 3.11 or newer; '$(PYTHON)' is missing or older. Try: make PYTHON=python3.12" >&2; \
		exit 1; }
	@# An existing .venv made by an older Python is replaced, not reused.
	$(BIN)/python -c '$(NEW_ENOUGH)' 2>/dev/null || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c requirements.lock -e '.[postgres,serve,test]'
	touch $(STAMP)

## install: create .venv with the pinned dependencies
install: $(STAMP)

## run: migrate the instance database, load demo data if it is empty, serve on 127.0.0.1:5000
run: install
	$(FLASK) kb init
	$(FLASK) kb demo --if-empty
	$(FLASK) run --host $(HOST) --port $(PORT)

## serve: gunicorn with WORKERS workers on BIND; kb/gunicorn_conf.py runs `flask kb init` once first
serve: install
	$(BIN)/gunicorn --config python:kb.gunicorn_conf --workers $(WORKERS) --bind $(BIND)

## test: run the whole suite over every core (PYTEST_ARGS='-k name' to narrow it)
test: install
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

## test-fast: the quick part (no slow, browser or PostgreSQL-only tests), for every save
test-fast: install
	$(BIN)/python -m pytest $(XDIST) -m 'not slow and not browser and not postgres' $(PYTEST_ARGS)

## clean: remove .venv and build output (the instance folder is kept)
clean:
	rm -rf $(VENV) build dist *.egg-info
