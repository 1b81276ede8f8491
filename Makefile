# Base Platform: `make run` starts everything, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
endif
PY := .venv/bin/python
UV_VERSION := 0.13.9

.PHONY: help install run check migrate test test-fast lint format seed bench servers browser clean agent-eval

help:
	@echo "make run      set up and start the four services (gateway on :8000)"
	@echo "make test     set up and run every test against real Postgres and RabbitMQ"
	@echo "make lint     ruff check, ruff format --check, mypy on shared and the domains"
	@echo "make format   ruff format and fix"
	@echo "make migrate  apply every service's migrations"
	@echo "make seed     load demo data through the API"
	@echo "make bench    run the benchmarks (writes bench/results.json)"
	@echo "make agent-eval  scripted booking dialogues against AGENT_MODEL, K runs (pass^1, pass^K)"
	@echo "make up/down  the same system in Docker Compose"

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# Bytecode is compiled here, once: where PYTHONDONTWRITEBYTECODE is set (this machine sets it)
# Python never writes it, and every process the tests and `make run` start would compile its
# imports again (about 3 s of CPU to import a service).
.venv/.installed: uv.lock pyproject.toml $(wildcard services/*/pyproject.toml) shared/pyproject.toml | $(UV)
	$(UV) sync --all-packages --frozen --compile-bytecode
	@touch $@

install: .venv/.installed
	@$(PY) -m compileall -q -j 0 shared/src services/*/src >/dev/null

servers:
	@bash deploy/ensure-servers.sh

# The web chat tests drive Debian's Chromium (headless) with Playwright. Installed once, with
# no prompt (CI has no stdin); root uses apt-get directly, others through passwordless sudo.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium for the browser tests"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }

check: install
	@$(PY) deploy/local.py check

migrate: install
	$(PY) deploy/migrate.py

run: install check migrate
	@$(PY) deploy/local.py run

test: install servers browser
	$(PY) -m pytest shared services tests

test-fast: install browser
	$(PY) -m pytest shared services tests -m "not fault and not fuzz"

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy shared/src/shared services/*/src/*/domain

format: install
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

seed: install check migrate
	$(PY) deploy/seed.py

bench: install servers migrate
	$(PY) bench/run.py

K ?= 4
agent-eval: install
	$(PY) -m conversations.agent.evaluation --k $(K)

clean:
	rm -rf .venv .tools .pytest_cache .ruff_cache .mypy_cache

include deploy/make.mk
