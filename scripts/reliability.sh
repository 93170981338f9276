#!/bin/sh
# The full fault suite (RELIABILITY.md R-tests) with the nightly iteration counts:
# R1 x20, R2 x20 (5 per failpoint), R3 x10, R13 with 30 chaos events, R21 x20, R10 x20,
# R14 x20, R7 for 60 s.
# The harness starts its own Redis, API and worker processes and a fresh Postgres database
# per test module; it needs the machine's Postgres (started here if down) and redis-server.
#
#   sh scripts/reliability.sh                      # everything, full counts
#   sh scripts/reliability.sh -k r2                # one test
#   HITL_ITERATIONS=3 sh scripts/reliability.sh    # any count, for a quick look
set -eu
cd "$(dirname "$0")/.."
sh scripts/services.sh
command -v redis-server >/dev/null || { echo "redis-server is required (apt-get install redis-server)" >&2; exit 1; }
export HITL_FULL="${HITL_FULL:-1}"
exec .venv/bin/python -m pytest tests/reliability -s -ra --durations=0 "$@"
