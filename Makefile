# `make check` is the one entry for format, lint, types and tests.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install check format lint types test demo

$(BIN)/dashscope-proxy: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

install: $(BIN)/dashscope-proxy

check: install
	$(BIN)/ruff format --check proxy tests bench
	$(BIN)/ruff check proxy tests bench
	$(BIN)/mypy
	$(BIN)/pytest --cov --cov-report=term

format: install
	$(BIN)/ruff format proxy tests bench
	$(BIN)/ruff check --fix proxy tests bench

lint: install
	$(BIN)/ruff check proxy tests bench

types: install
	$(BIN)/mypy

test: install
	$(BIN)/pytest

demo: install
	$(BIN)/dashscope-proxy demo
