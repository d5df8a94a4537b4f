# Odds Lab: `make run` starts the platform, `make test` runs the whole suite.
# With DATABASE_URL / REDIS_URL unset, both use embedded PostgreSQL and Redis under var/.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: install run test fuzz lint stop services clean-var

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo ""
	@echo "  Odds Lab is starting: open http://$(HOST):$(PORT)/  (console: /admin/, API docs: /api/docs/)"
	@echo "  Ctrl-C stops web, worker, beat and feed (and the embedded servers)."
	@echo ""
	$(PY) -m oddslab.localservices run $(VENV)/bin/honcho start -f Procfile

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The schemathesis run of the whole API schema (tests/test_schemathesis.py) with a larger budget:
# FUZZ_EXAMPLES requests per operation, generation mode and role (the suite uses 4), FUZZ_SEED.
FUZZ_EXAMPLES ?= 50
FUZZ_SEED ?= 13
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) $(PY) -m pytest tests/test_schemathesis.py $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

services: install
	$(PY) -m oddslab.localservices up

stop:
	$(PY) -m oddslab.localservices stop
