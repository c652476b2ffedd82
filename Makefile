# The README's two commands: `make demo` and `make test`. Every target sets up
# what it needs itself, starting from a machine with only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOURCES := $(wildcard cookiesess tests fuzz bench examples docs/hooks.py)
FUZZ_SECONDS ?= 60
PYTEST_ARGS ?=

.PHONY: install lint fmt type unit test fuzz-smoke fuzz bench bench-quick bench-instructions demo docs dist clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,speed,docs,dist]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

fmt: install
	$(BIN)/ruff format $(SOURCES)
	$(BIN)/ruff check --fix $(SOURCES)

type: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q tests/unit tests/engine $(PYTEST_ARGS)

fuzz-smoke: install
	$(BIN)/pytest -q tests/test_fuzz_corpus.py $(PYTEST_ARGS)

# The docs site, built with warnings as errors (a broken link, a docstring that does not
# match its signature). Not --quiet: it hides the warnings from --strict's count.
docs: install
	$(BIN)/mkdocs build --strict --site-dir build/site

# The sdist and wheel in dist/, their metadata checked as PyPI would.
dist: install
	rm -rf dist
	$(BIN)/python -m build --outdir dist . > /dev/null
	$(BIN)/twine check --strict dist/*

# tests/release installs the wheel `dist` built into a fresh venv and smoke-tests it there.
test: install lint type docs dist
	COOKIESESS_DIST=dist $(BIN)/pytest $(PYTEST_ARGS)
	$(BIN)/python -Im cookiesess keygen > /dev/null

fuzz: install
	$(BIN)/python -m pip install -q -e '.[fuzz]'
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python fuzz/run_all.py

bench: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/run.py

bench-quick: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/run.py --quick

bench-instructions: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/instructions.py

demo: install
	$(BIN)/cookiesess demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist
