# `make check` is the one entry for format, lint, types and tests.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install check format lint types test demo

$(BIN)/dashscope-proxy: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

install: $(BIN)/dashscope-proxy

# The sans-I/O packages are held at 100 % branch coverage; the rest is reported. Processes the
# tests start are measured too ([tool.coverage.run] in pyproject.toml).
PURE := proxy/core/*,proxy/chat/*,proxy/responses/*,proxy/traffic/*

check: install
	$(BIN)/ruff format --check proxy tests bench
	$(BIN)/ruff check proxy tests bench
	$(BIN)/mypy
	$(BIN)/pytest --cov --cov-report=term-missing:skip-covered
	$(BIN)/coverage report --include='$(PURE)' --show-missing --skip-covered --fail-under=100

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
