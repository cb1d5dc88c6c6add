# Concord — the two commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo demo-setup test drills lint format bench tryton-env clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## Everything `make demo` does before it starts the server (CI runs this part).
demo-setup: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_erp_demo
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_partners_demo
	$(BIN)/python manage.py seed_recon_demo

demo: demo-setup
	@echo ""
	@echo "  Concord console: http://$(HOST):$(PORT)/   (sign in as shown above)"
	@echo ""
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --no-cache   # the layers of DESIGN.md ([tool.importlinter])

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

## The fault drills (tests/drills/, docs/drills.md): broker down, database restart, warm
## shutdowns, redelivery. Each starts its own PostgreSQL cluster and Redis servers on free
## ports, so it never touches the shared ones. A few minutes; CI runs them after `make test`.
drills: install
	CONCORD_DRILLS=1 $(BIN)/pytest tests/drills $(PYTEST_ARGS)

## The real Tryton ERP lives in its own virtual environment (see docs/tryton.md).
## Rebuilt only when the requirements change, so CI re-runs on one machine are quick.
tryton-env: .venv-tryton/.installed

.venv-tryton/.installed: erp_sync/adapters/tryton_requirements.txt
	$(PYTHON) -m venv .venv-tryton
	.venv-tryton/bin/pip install --quiet --upgrade pip
	.venv-tryton/bin/pip install --quiet -r erp_sync/adapters/tryton_requirements.txt
	touch $@

bench: install
	$(BIN)/python -m tests.benchmarks.run $(BENCH)

clean:
	rm -rf $(VENV) .venv-tryton concord.sqlite3 .pytest_cache .ruff_cache
