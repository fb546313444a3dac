# The two commands that work on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

# PostgreSQL tests run when TEST_DATABASE_URL is set; by default, against the local server
# when one answers on 127.0.0.1:5432 (CI sets it explicitly and fails on any skip).
PG_LOCAL := postgres://postgres@127.0.0.1:5432/test
TEST_DATABASE_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && echo $(PG_LOCAL))
export TEST_DATABASE_URL

.PHONY: run test lint fmt build bench peers fuzz fuzz-api

## Serve on 127.0.0.1:8080 over SQLite in ./data (nothing else needed).
run:
	$(CARGO) run -p gateway -- serve

build:
	$(CARGO) build --workspace --all-targets

## Every test: doc examples (nextest does not run them), unit, black-box on SQLite and PostgreSQL, migrations, outage, CLI, layering,
## object stores against moto and fake-gcs-server (scripts/peers.sh installs them into .venv
## and starts them for the run). Tests that miss a peer print SKIPPED (listed at the end);
## under CI they fail instead.
## The in-process gateways log at TRACE into target/trace; check-trace-logs then greps those
## logs for every secret value the tests sent.
SKIP_LOG := $(CURDIR)/target/skipped-tests.log
TRACE_DIR := $(CURDIR)/target/trace
test:
	@echo "TEST_DATABASE_URL=$${TEST_DATABASE_URL:-<unset: PostgreSQL tests will be SKIPPED>}"
	@mkdir -p target && rm -f $(SKIP_LOG) && rm -rf $(TRACE_DIR)
	@status=0; \
	bash scripts/peers.sh start; \
	trap 'bash scripts/peers.sh stop' EXIT; \
	export GATEWAY_SKIP_LOG=$(SKIP_LOG) GATEWAY_TRACE_DIR=$(TRACE_DIR); \
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) test --workspace --doc --no-fail-fast -q || status=$$?; \
		$(CARGO) nextest run --workspace --no-fail-fast || status=$$?; \
	else \
		$(CARGO) test --workspace --no-fail-fast || status=$$?; \
	fi; \
	$(CARGO) run -q -p gateway-testkit --bin check-trace-logs -- $(TRACE_DIR) || status=1; \
	if [ -s $(SKIP_LOG) ]; then sort $(SKIP_LOG); fi; \
	exit $$status

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --workspace -q
	@if [ -f ../shared/tools/check-layers.py ]; then python3 ../shared/tools/check-layers.py; fi

fmt:
	$(CARGO) fmt --all

## Benchmarks (release build): figures for docs/benchmarks.md.
bench:
	@[ -x .venv/bin/python ] || python3 -m venv .venv
	@.venv/bin/pip install -q --disable-pip-version-check duckdb || echo "bench: DuckDB not installed: its comparison is skipped"
	$(CARGO) bench -p gateway-formats --bench sniff
	$(CARGO) bench -p gateway-engine --bench validate
	@bash scripts/peers.sh start; trap 'bash scripts/peers.sh stop' EXIT; \
	$(CARGO) bench -p gateway-blackbox --bench s3_preview
	bash scripts/api-bench.sh
	NOISY_BENCH=1 $(CARGO) test -q --release -p gateway --test noisy -- --nocapture

## Start the test peers by hand (then run single tests with cargo); `bash scripts/peers.sh stop` ends them.
peers:
	bash scripts/peers.sh start

## Fuzz every parser of outside bytes (cargo-fuzz, libFuzzer + ASan), FUZZ_SECONDS each (default 60);
## crashes are kept under fuzz/corpus/<target>/, which make test replays.
fuzz:
	bash scripts/fuzz.sh

## Fuzz the HTTP API from its OpenAPI document (schemathesis): no 5xx but the documented 501s.
fuzz-api:
	bash scripts/fuzz-api.sh
