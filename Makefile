# HybridQC. Two set-up commands: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Django 6 needs Python >= 3.12: honour PYTHON=, else look on PATH, then in pyenv.
PYTHON ?= $(shell for c in python3.12 python3.13 python3 \
	$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python 2>/dev/null | sort -V); do \
	command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { command -v $$c; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/hybridqc
REDIS_URL ?= redis://127.0.0.1:6379
TEST_BROKER ?= $(REDIS_URL)/14
# The tests' fake judge listens on 127.0.0.1; tests of the refusal turn JUDGE_ALLOW_PRIVATE_HOSTS off.
TEST_ENV := DATABASE_URL=$(PG_URL) CELERY_BROKER_URL=$(TEST_BROKER) SECRET_KEY=test-only-secret \
	DJANGO_ALLOW_ASYNC_UNSAFE=true JUDGE_ALLOW_PRIVATE_HOSTS=1
DEMO_ENV := HYBRIDQC_DEMO=1 DATABASE_URL= CELERY_BROKER_URL=

.PHONY: help install demo test lint bench backtests coarse-check reliability serve chromium services python-check

help:
	@echo "make demo   - install, load the real demo data, serve http://127.0.0.1:8000 (SQLite, no services)"
	@echo "make test   - install and run the whole suite (PostgreSQL, Redis, Celery worker, Chromium)"
	@echo "make bench  - benchmarks into bench/results.json"
	@echo "make backtests - the router's acceptance matrix (leave-one-source-out) into bench/backtests.json"
	@echo "make coarse-check - the router's coarse-judgment rule on coarsened LLMBar into bench/coarse_check.json"
	@echo "make reliability - authz matrix, fuzz, XSS and fault suites; figures into bench/reliability.json"
	@echo "make serve  - gunicorn + celery workers (judge, routing, housekeeping, export queues) + beat on PostgreSQL and Redis"
	@echo "make lint   - ruff, mypy and the import contracts (lint-imports)"

python-check:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: HybridQC needs Python >= 3.12 (Django 6). Install one or run 'make PYTHON=/path/to/python3.12 ...'" >&2; \
	  exit 1; fi
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 12))' || \
	  { echo "error: $(PYTHON) is older than 3.12; Django 6 needs >= 3.12" >&2; exit 1; }

$(VENV)/.installed: requirements.lock pyproject.toml | python-check
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	@touch $@

install: $(VENV)/.installed

# Debian's Chromium for the browser tests; Playwright cannot download its own here.
chromium:
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || { echo "error: could not install chromium (need root and the Debian mirror)" >&2; exit 1; }; }

services:
	@pg_isready -h 127.0.0.1 -p 5432 -q || { echo "error: PostgreSQL is not up on 127.0.0.1:5432" >&2; exit 1; }
	@redis-cli -h 127.0.0.1 ping >/dev/null || { echo "error: Redis is not up on 127.0.0.1:6379" >&2; exit 1; }

test: install chromium services
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

demo: install
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py demo_load
	@# The fake OpenAI-compatible judge (no LLM endpoint is reachable) runs beside the demo.
	$(DEMO_ENV) bash -c 'trap "kill 0" EXIT; \
	  $(BIN)/python manage.py fake_judge_server --port 8001 --latency-ms 150 --error-rate 0.03 \
	    --errors 429,500,timeout --replay data/llmbar.jsonl & \
	  $(BIN)/python manage.py runserver 127.0.0.1:8000'


bench: install services
	$(TEST_ENV) DATABASE_URL=$(PG_URL)_bench $(BIN)/python bench/run.py $(BENCH)

# The reliability suites (also part of `make test`); their figures go to bench/reliability.json.
reliability: install chromium services
	$(TEST_ENV) $(BIN)/python bench/reliability.py $(SUITES)

# No database: the backtest reads the data files only.
backtests: install
	DATABASE_URL= CELERY_BROKER_URL= $(BIN)/python bench/backtest_matrix.py

# The same backtests on LLMBar cut to k verdicts per item (KS=, default 1 2 4 8), one case at a time.
coarse-check: install
	DATABASE_URL= CELERY_BROKER_URL= $(BIN)/python bench/coarse_check.py $(KS)

# `make serve` listens on plain HTTP on 127.0.0.1: the production default (HTTPS: redirect to https://,
# Secure cookies a browser never sends back over HTTP) would make it unusable, so it is off here only.
# Behind a TLS-terminating proxy: make serve SERVE_HTTPS=1 SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https
SERVE_HTTPS ?= 0
SERVE_ENV := DATABASE_URL=$(PG_URL) CELERY_BROKER_URL=$(REDIS_URL)/0 SECURE_HTTPS=$(SERVE_HTTPS)

# One worker per queue (hybridqc/queues.py): lease expiry never waits behind judge chunks.
serve: install services
	@test -n "$$SECRET_KEY" || { echo "error: set SECRET_KEY for make serve" >&2; exit 1; }
	@createdb -h 127.0.0.1 -U postgres hybridqc 2>/dev/null && echo "created database hybridqc" || true
	$(SERVE_ENV) $(BIN)/python manage.py migrate --noinput
	$(SERVE_ENV) $(BIN)/python manage.py collectstatic --noinput -v0
	$(SERVE_ENV) bash -c '\
	  trap "kill 0" EXIT; \
	  $(BIN)/celery -A hybridqc worker -Q hybridqc-judge -n judge@%h -l info -c 2 & \
	  $(BIN)/celery -A hybridqc worker -Q hybridqc-routing -n routing@%h -l info -c 1 & \
	  $(BIN)/celery -A hybridqc worker -Q hybridqc-housekeeping -n housekeeping@%h -l info -c 1 & \
	  $(BIN)/celery -A hybridqc worker -Q hybridqc-export -n export@%h -l info -c 1 & \
	  $(BIN)/celery -A hybridqc beat -l info -s var/celerybeat-schedule & \
	  $(BIN)/gunicorn hybridqc.wsgi -b 127.0.0.1:8000 -w 4 --access-logfile - & wait'
