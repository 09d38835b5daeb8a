# skillsign: `make demo` runs the service on the embedded default, `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_DIRS := tests/interop/node tests/browser
# The pure packages are held to mypy --strict (lti_app is not yet: see [tool.mypy]).
TYPECHECK := $(BIN)/mypy --strict frameworks credentials keys

.PHONY: demo test test-sqlite test-postgres lint typecheck bench node-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

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
