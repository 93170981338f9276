#!/bin/sh
# Create .venv and install the project with pinned versions (requirements/constraints.txt).
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements/constraints.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c requirements/constraints.txt -e ".[dev]"
  touch "$stamp"
fi

# The web UI (frontend/, served by the API at /ui/): npm ci when the lock changed, a build when
# a source changed. Without npm the API still starts and /ui/ says how to build it.
if command -v npm >/dev/null 2>&1; then
  deps_stamp=frontend/node_modules/.installed
  if [ ! -f "$deps_stamp" ] || [ frontend/package-lock.json -nt "$deps_stamp" ]; then
    (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
    touch "$deps_stamp"
  fi
  build_stamp=frontend/node_modules/.built
  if [ ! -f frontend/dist/index.html ] || [ ! -f "$build_stamp" ] || [ -n "$(find frontend/src frontend/index.html frontend/vite.config.ts frontend/tsconfig.json frontend/package.json frontend/package-lock.json -newer "$build_stamp" 2>/dev/null | head -n 1)" ]; then
    (cd frontend && npm run --silent build >/dev/null)
    touch "$build_stamp"
  fi
  # the official JS SDK for tests/e2e/test_js_sdk.py
  js_stamp=tests/js/node_modules/.installed
  if [ ! -f "$js_stamp" ] || [ tests/js/package-lock.json -nt "$js_stamp" ]; then
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
    touch "$js_stamp"
  fi
else
  echo "npm not found: the web UI is not built (see README, 'Web UI')" >&2
fi
