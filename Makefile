# The project's vocabulary: `make run`, `make test`, `make lint`, `make bench`, `make fmt`.
# Every install step lives here, so a fresh machine (and CI) needs nothing installed by hand.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint fmt bench clean browser

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
	$(BIN)/python -m pip install -e ".[train,dev]"
	touch $@ $(RUN_STAMP)

# The main job: scan the bundled sample photographs. Exit codes 1 (flagged) and 3 (unreadable
# input) are results, not failures of `make run`. Without a model the scan says so, and the file
# evidence (which needs no model) is shown instead.
run: $(RUN_STAMP)
	@$(BIN)/fakescope scan samples; rc=$$?; \
	if [ $$rc -eq 2 ]; then \
		echo "make run: no model is installed, so nothing was scored; file evidence alone follows (README.md, 'Models')." >&2; \
		$(BIN)/fakescope evidence samples; rc=$$?; \
	fi; \
	[ $$rc -le 3 ]

# One test opens the HTML report in headless Chromium (Debian package `chromium`; CI runs as root).
# Where it cannot be installed, that test is skipped and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; } || \
		echo "make test: could not install chromium; the browser test will be skipped"; }

test: $(DEV_STAMP) browser
	$(BIN)/python -m pytest -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check fakescope_cli conversion train tests
	$(BIN)/ruff format --check fakescope_cli conversion train tests
	$(BIN)/mypy fakescope_cli conversion train

fmt: $(DEV_STAMP)
	$(BIN)/ruff format fakescope_cli conversion train tests
	$(BIN)/ruff check --fix fakescope_cli conversion train tests

bench: $(DEV_STAMP)
	$(BIN)/python -m fakescope_cli.evidence.bench
	$(BIN)/python -m fakescope_cli.bench
	$(BIN)/python -m fakescope_cli.bench_rescan
	$(BIN)/python -m conversion.bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
