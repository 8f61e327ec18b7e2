# The README's two commands: `make demo` and `make test`. Everything they need is set up here.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint deps tools render golden bench clean

demo: deps tools
	$(BIN)/callwatch demo

test: deps tools lint
	. scripts/tool-env.sh && $(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff (the rule set in pyproject.toml [tool.ruff]) and the import contracts ([tool.importlinter]).
lint: deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# The test extra includes the demo and render extras (pyproject.toml), so one install serves
# `make demo` and `make test`.
deps: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# Prometheus, Alertmanager, promtool, amtool and PostgreSQL: installed from Debian when missing.
tools:
	scripts/ensure-tools

# Regenerate deploy/ from deploy/policy.yaml.
render: deps
	$(BIN)/callwatch render

# Refresh every golden file (generated artifacts and test fixtures) in one go.
golden: deps
	$(BIN)/callwatch render
	CALLWATCH_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_golden.py

bench: deps tools
	. scripts/tool-env.sh && for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
