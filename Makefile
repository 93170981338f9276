# The README's commands. `make run` serves the embedded default; `make test` runs everything CI runs.
.PHONY: run install services lint test test-fast clean

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
	@! grep -n "https\?://" frontend/package-lock.json || { echo "frontend/package-lock.json names a registry host" >&2; exit 1; }

test: install services lint
	sh scripts/browser.sh
	.venv/bin/python -m pytest

test-fast: install
	.venv/bin/python -m pytest -x -q tests/unit

clean:
	rm -rf .venv .countersign .pytest_cache .mypy_cache .ruff_cache frontend/node_modules frontend/dist
