# The README's two commands: `make demo` and `make test`. Every target sets up
# what it needs itself, starting from a machine with only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOURCES := $(wildcard cookiesess tests fuzz bench examples)
FUZZ_SECONDS ?= 60
PYTEST_ARGS ?=

.PHONY: install lint fmt type unit test fuzz-smoke fuzz bench bench-quick demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,speed]'
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

test: install lint type
	$(BIN)/pytest $(PYTEST_ARGS)
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

demo: install
	$(BIN)/cookiesess demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
