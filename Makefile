# The project's vocabulary: `make run`, `make test`, `make lint`, `make bench`, `make fmt`.
# Every install step lives here, so a fresh machine (and CI) needs nothing installed by hand.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint fmt bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Runtime only: typer, rich, llama-cpp-python (built from source the first time, ~4 min), pillow ...
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

# Tests, conversion and benchmarks. torch==2.13.0 first: that version installs a CPU build from
# local disk, and installing it before transformers keeps pip from fetching a CUDA build.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e ".[convert,dev]"
	touch $@ $(RUN_STAMP)

# The main job: scan the bundled sample photographs. Exit codes 1 (flagged) and 3 (unreadable
# input) are results, not failures of `make run`; without a model the scan says so and stops.
run: $(RUN_STAMP)
	@$(BIN)/fakescope scan samples; rc=$$?; \
	if [ $$rc -eq 2 ]; then echo "make run: no model is installed yet, so nothing was scored. See README.md, 'Models'."; fi; \
	[ $$rc -le 3 ]

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check fakescope_cli conversion train tests
	$(BIN)/ruff format --check fakescope_cli conversion train tests
	$(BIN)/mypy fakescope_cli conversion train

fmt: $(DEV_STAMP)
	$(BIN)/ruff format fakescope_cli conversion train tests
	$(BIN)/ruff check --fix fakescope_cli conversion train tests

bench: $(DEV_STAMP)
	$(BIN)/python -m fakescope_cli.bench
	$(BIN)/python -m conversion.bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
