# Set-up and everyday commands. Only python3 (with venv) is needed on the machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test

.PHONY: test lint chat clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

## make test: create .venv, install the project with its test extras, lint, run the suite.
test: $(STAMP) lint
	$(BIN)/python -m pytest

## make lint: ruff and mypy over the package, the plugin dropin and the tests.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## make chat: same set-up, then the chat server on port 6666 in the foreground.
chat: $(STAMP)
	$(BIN)/twist tcp-chat --port 6666

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name dropin.cache -delete
