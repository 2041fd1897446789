# The single entry point. `make demo` and `make test` install and start everything they need.
SHELL := /bin/bash
STACK := stack/stack
RUN := $(STACK) exec --
PYTEST_ARGS ?=

.PHONY: help setup stack-up stack-down stack-status stack-logs airflow-ui demo test unit integration \
        dags-test lint format typecheck check pre-commit mappings-generate mappings-validate ddl \
        bench bench-backfill bench-stream bench-reconcile bench-reconcile-10m chaos prune-test-data cli

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

setup: ## install apt packages, the Python venv and the Kafka/Debezium jars (cached, idempotent)
	@$(STACK) install

stack-up: setup ## start MariaDB, PostgreSQL, Kafka, Kafka Connect, Airflow metadata (reuses what runs)
	@$(STACK) up

stack-down: ## stop every service (data stays in .stack/)
	@$(STACK) down

stack-status: ## what runs, where, which version
	@$(STACK) status

stack-logs: ## list logs; `make stack-logs SERVICE=kafka` shows one
	@$(STACK) logs $(SERVICE)

airflow-ui: stack-up ## start the Airflow api-server, scheduler, dag-processor and triggerer on :8080
	@$(STACK) up airflow-ui

demo: stack-up ## load the demo MySQL schema and run the DAGs end to end with `airflow dags test`
	@$(RUN) python -m mysql_pg_sync demo

test: stack-up ## unit + integration + DAG tests against the real local stack
	@$(RUN) python -m pytest $(PYTEST_ARGS)

unit: setup ## unit tests only (no services)
	@$(RUN) python -m pytest -m unit $(PYTEST_ARGS)

integration: stack-up ## integration tests only
	@$(RUN) python -m pytest -m "integration and not dags" $(PYTEST_ARGS)

dags-test: stack-up ## DAG integrity and dag.test() runs
	@$(RUN) python -m pytest -m dags $(PYTEST_ARGS)

lint: setup ## ruff lint + format check
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .

format: setup ## apply ruff fixes and formatting
	@$(RUN) ruff check --fix .
	@$(RUN) ruff format .

typecheck: setup ## mypy on the library
	@$(RUN) mypy

check: lint typecheck unit ## fast checks (what pre-commit runs, plus unit tests)

pre-commit: setup ## install the git pre-commit hook
	@$(RUN) pre-commit install

mappings-generate: stack-up ## (re)generate include/mappings from MySQL's information_schema; keeps hand edits
	@$(RUN) python -m mysql_pg_sync mappings generate $(ARGS)

mappings-validate: setup ## validate include/mappings/*.yaml
	@$(RUN) python -m mysql_pg_sync mappings validate $(ARGS)

ddl: stack-up ## create PostgreSQL tables from the mappings (ARGS=--dry-run prints the SQL)
	@$(RUN) python -m mysql_pg_sync ddl $(ARGS)

cli: stack-up ## run the library's CLI on the local stack: make cli ARGS="connectors delete --drop-slot"
	@$(RUN) python -m mysql_pg_sync $(ARGS)

bench: bench-backfill bench-reconcile bench-stream ## every benchmark (see bench/README.md)

bench-backfill: stack-up ## backfill vs pgloader vs server-side COPY (installs pgloader)
	@$(STACK) install bench
	@$(RUN) python -m bench.backfill $(ARGS)

bench-stream: stack-up ## stream apply vs Debezium JDBC sink
	@$(RUN) python -m bench.stream $(ARGS)

bench-reconcile: stack-up ## reconcile vs reladiff
	@$(RUN) python -m bench.reconcile $(ARGS)

bench-reconcile-10m: stack-up ## reconcile vs reladiff on a 10M-row table pair
	@$(RUN) python -m bench.reconcile --rows 10000000 --repeat 1 $(ARGS)

prune-test-data: stack-up ## remove topics, slots and mps_test_* databases that killed test runs left
	@$(RUN) python stack/prune_test_data.py

chaos: stack-up ## long convergence run with every fault injected
	@MPS_CHAOS_LONG=1 $(RUN) python -m pytest -m slow -s tests/integration/test_convergence.py $(PYTEST_ARGS)
