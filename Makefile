# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two stamps: `make run` needs the runtime dependencies only; tests and linters add the test extra.
STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test
export IDP_INSTANCE_DIR ?= instance

.PHONY: run test test-postgres lint bench fuzz install browser proxy check clean messages translations
POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(TEST_STAMP)

install: $(TEST_STAMP)

# Catalogues: `make messages` extracts every marked string and merges it into each .po (then
# translate what is new); `make translations` compiles them (the app also does at start when stale).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -k lazy_ngettext:1,2 --no-location --width 100 --sort-output \
		-o idp/translations/messages.pot .
	$(BIN)/pybabel update --width 100 -i idp/translations/messages.pot -d idp/translations --no-fuzzy-matching
	rm idp/translations/messages.pot

translations: $(STAMP)
	$(BIN)/pybabel compile -d idp/translations

# Debian's Chromium for the WebAuthn browser tests; never a browser downloaded by a test tool.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# Debian's nginx for the reverse-proxy test (tests/test_behind_nginx.py); never started as a service.
proxy:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || (apt-get update -qq && apt-get install -y -qq nginx >/dev/null)

run: $(STAMP) translations
	IDP_ENV=development $(BIN)/idp db upgrade
	IDP_ENV=development $(BIN)/idp keys generate
	IDP_ENV=development $(BIN)/idp demo
	@# The mail worker runs beside gunicorn (no access log: it would print query strings) and stops with it (Ctrl-C, an error, or gunicorn exiting).
	IDP_ENV=development $(BIN)/idp worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	IDP_ENV=development $(BIN)/gunicorn --workers 2 --bind 127.0.0.1:5000 wsgi:app

# .ci/db-check: `idp db check` and a downgrade/upgrade round trip on a database of its own.
# The suite runs in random order (pytest-randomly) on one worker per core (pytest-xdist, at most
# TEST_WORKERS), a test file (a browser test alone) per worker at a time, the costliest first
# (tests/scheduling.py); the last line names the seed that replays it
# (add `-p no:xdist` to replay it in one process). TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 4
# Subprocesses of the suite (gunicorn, the CLI, migrations) import idp again: let Python keep
# its bytecode (in __pycache__, ignored by git) even where the environment says not to.
test test-postgres: export PYTHONDONTWRITEBYTECODE :=
PYTEST_PARALLEL = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n auto --maxprocesses $(TEST_WORKERS) --dist loadfile)
test: $(TEST_STAMP) translations browser proxy check
	BIN=$(BIN) .ci/db-check
	$(BIN)/pytest -q $(PYTEST_PARALLEL)

test-postgres: $(TEST_STAMP) translations browser proxy
	BIN=$(BIN) .ci/db-check $(POSTGRES_URL)
	IDP_TEST_DATABASE_URL=$(POSTGRES_URL) $(BIN)/pytest -q $(PYTEST_PARALLEL)

lint: $(TEST_STAMP)
	$(BIN)/ruff check idp tests $(wildcard bench)
	$(BIN)/ruff format --check idp tests $(wildcard bench)

# What CI checks besides the tests: lint and types (pyproject's [tool.mypy]). That the models
# and migrations agree is .ci/db-check's job, run by `test` and `test-postgres`.
check: lint
	$(BIN)/mypy

# Random seeds for FUZZ_SECONDS (CI runs fixed ones); each seed is printed before it runs,
# so a failure replays with IDP_FUZZ_SEEDS=<seed> IDP_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) pytest ...
FUZZ_SECONDS ?= 60
FUZZ_EXAMPLES ?= 200
FUZZ_TESTS ?= tests/oidc/test_protocol_fuzz.py tests/web/test_admin_api_schema.py
fuzz: $(TEST_STAMP)
	@end=$$(( $$(date +%s) + $(FUZZ_SECONDS) )); \
	while [ $$(date +%s) -lt $$end ]; do \
		seed=$$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); \
		echo "fuzz: IDP_FUZZ_SEEDS=$$seed IDP_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES)"; \
		IDP_FUZZ_SEEDS=$$seed IDP_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
			$(BIN)/pytest -q -x -p no:cacheprovider $(FUZZ_TESTS) || exit 1; \
	done

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance
