# skillsign: `make demo` runs the service on the embedded default, `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Exact versions of every dependency: make demo, make test, CI and production installs use these.
LOCK   := requirements/dev.lock
PROD_LOCK := requirements/prod.lock
LOCK_ARGS := --python-version 3.11 --universal --quiet
NODE_DIRS := tests/interop/node tests/browser
# mypy on all four packages, as [tool.mypy] says: the pure packages with every strict check,
# lti_app in normal mode. One run, so every library override there is used.
TYPECHECK := $(BIN)/mypy

.PHONY: demo test test-sqlite test-postgres lint typecheck bench node-deps lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# After changing pyproject.toml's dependencies: refresh both lock files (tests/unit/test_lock.py
# fails while they disagree with pyproject.toml).
lock: | $(BIN)/python
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_ARGS) -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_ARGS) -o $(PROD_LOCK)

# Node packages for the tests: the independent verifier (interop) and axe-core (browser);
# skipped where there is no npm.
node-deps:
	@for dir in $(NODE_DIRS); do \
	  if [ -f $$dir/package-lock.json ] && command -v npm >/dev/null; then \
	    if [ ! -d $$dir/node_modules ] || [ $$dir/package-lock.json -nt $$dir/node_modules ]; then \
	      npm ci --prefix $$dir --no-audit --no-fund --loglevel=error && touch $$dir/node_modules || exit 1; \
	    fi; \
	  fi; \
	done

demo: $(STAMP)
	$(BIN)/skillsign demo

# The whole suite on SQLite; again on PostgreSQL (every test that touches a
# database) when SKILLSIGN_TEST_DATABASE_URL names one.
test: $(STAMP) node-deps
	$(BIN)/ruff check .
	$(TYPECHECK)
	env -u SKILLSIGN_TEST_DATABASE_URL $(BIN)/pytest -q
	@if [ -n "$$SKILLSIGN_TEST_DATABASE_URL" ]; then \
	  echo "== again on $$(echo $$SKILLSIGN_TEST_DATABASE_URL | sed 's#//[^@]*@#//#')"; \
	  $(BIN)/pytest -q -m db; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(TYPECHECK)

bench: $(STAMP) node-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis $(addsuffix /node_modules,$(NODE_DIRS))
