# relayops set-up and everyday commands. `make help` lists the targets.
# PYTHON (interpreter that creates the venv) and VENV (its directory) can be overridden,
# e.g. `make test PYTHON=python3.12 VENV=/tmp/relayops-venv`.

PYTHON ?= python3
VENV ?= .venv
PYTEST_ARGS ?=

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.PHONY: help venv tools render check validate test lint bench drill clean

help: ## List the targets
	@echo 'Usage: make TARGET [PYTHON=python3] [VENV=.venv] [PYTEST_ARGS=...]'
	@awk -F ':.*## ' '/^[a-z]+:.*## / { printf "  %-10s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

venv: $(STAMP) ## Create the venv and pip install -e '.[dev]' (again when pyproject.toml changes)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
		rm -rf $(VENV); \
		echo "make: '$(PYTHON) -m venv' failed; Python 3.11+ with the venv module is needed" \
			"(Debian: apt-get install python3-venv)" >&2; \
		exit 1; }
	$(BIN)/python -m pip install -e '.[dev]'
	@touch $@

tools: ## Install the Prometheus, Alertmanager, Pushgateway and Redis tools when missing
	@bash scripts/bootstrap-tools.sh

render: venv tools ## Render the specs (relayops render)
	$(BIN)/relayops render

check: venv tools ## Run relayops check
	$(BIN)/relayops check

validate: venv ## Run relayops validate
	$(BIN)/relayops validate

test: venv tools ## Run the tests; collecting no tests is a failure
	@echo '$(BIN)/python -m pytest -q $(PYTEST_ARGS)'; \
	status=0; $(BIN)/python -m pytest -q $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then \
		echo "make: pytest collected no tests (exit 5): failing" >&2; \
		exit 1; \
	fi; \
	exit $$status

lint: venv ## Lint, check formatting (ruff) and the package layers (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

drill: venv tools ## Run every drill on both providers (relayops drill all); reports in .drill/report
	$(BIN)/relayops drill all --report-dir .drill/report

bench: venv tools ## Run every benchmark (bench/*.py); fails if one misses its target
	@missed=""; for bench in render rule_cost drill gate controller build sends upload; do \
		echo "==> bench/$$bench.py"; $(BIN)/python bench/$$bench.py || missed="$$missed bench/$$bench.py"; \
	done; if [ -n "$$missed" ]; then echo "make bench: missed a target (or could not run):$$missed"; exit 1; fi

clean: ## Remove the venv, caches and build output (never rendered/)
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist *.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
