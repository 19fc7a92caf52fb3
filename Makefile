# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export IDP_INSTANCE_DIR ?= instance

.PHONY: run test test-sqlite test-postgres lint bench install browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the WebAuthn browser tests; never a browser downloaded by a test tool.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

run: $(STAMP)
	IDP_ENV=development $(BIN)/idp db upgrade
	IDP_ENV=development $(BIN)/idp keys generate
	IDP_ENV=development $(BIN)/idp demo
	@# The mail worker runs beside gunicorn and stops with it (Ctrl-C, an error, or gunicorn exiting).
	IDP_ENV=development $(BIN)/idp worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	IDP_ENV=development $(BIN)/gunicorn --workers 2 --bind 127.0.0.1:5000 --access-logfile - wsgi:app

test: $(STAMP) browser
	$(BIN)/ruff check idp tests $(wildcard bench)
	$(BIN)/pytest -q

test-postgres: $(STAMP) browser
	IDP_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test $(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check idp tests $(wildcard bench)
	$(BIN)/ruff format --check idp tests $(wildcard bench)

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance
