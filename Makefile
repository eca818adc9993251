# `make demo` and `make test` each set up .venv on a fresh machine, then run.
# TORCH is the torch requirement; CI and the development machine use the CPU build:
#   make test TORCH=torch==2.13.0      (the default)
# `make docs` builds the docs site (mkdocs.yml: docs/ and the API reference) into site/.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PIP_FLAGS ?= -q
EXTRAS ?= dev
# pytest workers (pytest-xdist): one per core; each runs torch on one thread (tests/conftest.py)
TEST_WORKERS ?= auto
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(EXTRAS)

.PHONY: setup demo test test-quick quick lint format clean bench-gpu

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) "$(TORCH)"
	$(BIN)/python -m pip install $(PIP_FLAGS) -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: setup
	$(BIN)/omicsformer demo --out runs/demo

# The GPU table of docs/attention-methods.md (docs/attention-gpu.csv, docs/attention-gpu.png; the
# Markdown table is printed): every backend, bf16 and fp32, 1k-60k genes, the largest batch that
# fits. Needs a CUDA GPU and a CUDA build of torch; add flash-attn for the flash rows:
#   make bench-gpu EXTRAS=dev,flash
bench-gpu: setup
	$(BIN)/omicsformer bench gpu --out docs --force

lint: setup
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

test: lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

# the edit loop: every test not marked slow (see CONTRIBUTING.md), without the lint; under a
# minute on 2 cores. `quick` is its old name.
test-quick: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not slow"

quick: test-quick

format: setup
	$(BIN)/ruff format src tests scripts
	$(BIN)/ruff check --fix src tests scripts

clean:
	rm -rf $(VENV) runs site .pytest_cache .ruff_cache

# The docs site from mkdocs.yml (docs/, and an API reference generated from the docstrings) into
# site/; --strict: a broken link, anchor or reference fails the build. Adds the `docs` extra.
DOCS_STAMP := $(VENV)/.installed-docs
.PHONY: docs
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install $(PIP_FLAGS) -e ".[$(EXTRAS),docs]"
	touch $@
