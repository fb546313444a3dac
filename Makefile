# The two commands that work on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

# PostgreSQL tests run when TEST_DATABASE_URL is set; by default, against the local server
# when one answers on 127.0.0.1:5432 (CI sets it explicitly and fails on any skip).
PG_LOCAL := postgres://postgres@127.0.0.1:5432/test
TEST_DATABASE_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && echo $(PG_LOCAL))
export TEST_DATABASE_URL

.PHONY: run test lint fmt build

## Serve on 127.0.0.1:8080 over SQLite in ./data (nothing else needed).
run:
	$(CARGO) run -p gateway -- serve

build:
	$(CARGO) build --workspace --all-targets

## Every test: unit, black-box on SQLite and PostgreSQL, migrations, outage, CLI, layering.
## Tests that miss a peer print SKIPPED (shown below); under CI they fail instead.
SKIP_LOG := $(CURDIR)/target/skipped-tests.log
test:
	@echo "TEST_DATABASE_URL=$${TEST_DATABASE_URL:-<unset: PostgreSQL tests will be SKIPPED>}"
	@mkdir -p target && rm -f $(SKIP_LOG)
	@status=0; \
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
		GATEWAY_SKIP_LOG=$(SKIP_LOG) $(CARGO) nextest run --workspace --no-fail-fast || status=$$?; \
	else \
		GATEWAY_SKIP_LOG=$(SKIP_LOG) $(CARGO) test --workspace --no-fail-fast || status=$$?; \
	fi; \
	if [ -s $(SKIP_LOG) ]; then sort $(SKIP_LOG); fi; \
	exit $$status

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@if [ -f ../shared/tools/check-layers.py ]; then python3 ../shared/tools/check-layers.py; fi

fmt:
	$(CARGO) fmt --all
