# The README's commands. `make run` serves the embedded default; `make test` runs everything CI runs.
.PHONY: run install services lint test test-all test-pgbouncer test-fast clean

run: install
	.venv/bin/countersign serve

install:
	sh scripts/install.sh

services:
	sh scripts/services.sh

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports
	cd frontend && npm run --silent typecheck
	sh scripts/openapi-types.sh --check
	@! grep -n '"resolved": *"https\?://' frontend/package-lock.json tests/js/package-lock.json || { echo "a package-lock.json names a registry host" >&2; exit 1; }

test: install services lint
	cd frontend && npm run --silent test
	sh scripts/browser.sh
	.venv/bin/python -m pytest
	$(MAKE) test-pgbouncer

# The SDK end-to-end test and R1/R10 again, through Debian's PgBouncer (1.18) in transaction
# pooling mode, with COUNTERSIGN_DB_PREPARED_STATEMENTS=false (tests/fixtures/pgbouncer.py).
test-pgbouncer: install services
	sh scripts/pgbouncer.sh
	COUNTERSIGN_TEST_PGBOUNCER=1 .venv/bin/python -m pytest -p no:cacheprovider \
		"tests/e2e/test_sdk.py" -k "postgres or r1_worker_killed or r10_racing" \
		tests/reliability/test_crash_recovery.py::test_r1_worker_killed_before_the_interrupt \
		tests/reliability/test_concurrency.py::test_r10_racing_resumes

# Everything: what CI runs, then the fault suite at its nightly sizes (docs/RELIABILITY-RESULTS.md).
test-all: test
	sh scripts/reliability.sh

test-fast: install
	.venv/bin/python -m pytest -x -q tests/unit

clean:
	rm -rf .venv .countersign .pytest_cache .mypy_cache .ruff_cache frontend/node_modules frontend/dist
