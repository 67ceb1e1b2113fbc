# Two commands do all the set-up on a fresh machine:
#   make demo   - start a local server and show a GET, a JSON POST and a streamed download
#   make test   - install what the tests need, then ruff, mypy --strict and pytest
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

LINT_PATHS := $(wildcard src tests benchmarks examples fuzz)

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

test: lint typecheck pytest

bench:
	bash benchmarks/run.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
