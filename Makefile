# The two commands a fresh machine needs:
#   make serve   install, then run Connect's embedded default on http://127.0.0.1:8000
#                (make serve PORT=8010 HOST=0.0.0.0 to listen elsewhere)
#   make test    install (engines included), then run the whole test suite
# and, for the domain rules' tests themselves: make mutation (docs/testing.md).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# CI (CI=true) must fail, never skip, when a real engine cannot start.
export CONNECT_REQUIRE_ENGINES ?= $(if $(filter true 1,$(CI)),1,)

.PHONY: install engines serve test unit bench mutation

# The editable install is a plain path entry for the checkout (pyproject's `package-dir`), so it
# prints nothing a newcomer would take for a problem.
$(BIN)/connect: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/connect

engines:
	bash deploy/install-system-deps.sh

serve: install
	$(BIN)/connect seed-demo --if-empty
	$(BIN)/connect serve --host $(HOST) --port $(PORT)

unit: install
	$(BIN)/pytest tests/unit -q -m "not integration"

test: install engines
	$(BIN)/pytest -q

bench: install engines
	$(BIN)/python -m bench

# Mutation testing of every service's domain modules (docs/testing.md): mutmut changes one thing
# at a time and runs the unit tests that reach it; the score per module must be >= 90 %.  Slow
# (see README), so not part of `make test`.  Plugins are not auto-loaded: each mutant's run
# starts pytest afresh, and the selected unit tests need none of them.
MUTATION_JOBS ?= 2
mutation: install
	$(BIN)/python -c "import mutmut" 2>/dev/null || $(BIN)/pip install --quiet -e '.[test,dev]'
	rm -rf mutants
	PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 $(BIN)/mutmut run --max-children $(MUTATION_JOBS)
	$(BIN)/python -m tests.mutation.score --min 90
