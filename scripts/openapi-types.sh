#!/bin/sh
# The web UI's API types are generated from the service's OpenAPI document
# (`countersign openapi` -> openapi-typescript -> frontend/src/api.gen.ts).
#
#   sh scripts/openapi-types.sh           regenerate frontend/src/api.gen.ts
#   sh scripts/openapi-types.sh --check   fail when it differs from what the API declares (make lint)
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
COUNTERSIGN_ENV=test .venv/bin/countersign openapi > "$tmp/openapi.json"
frontend/node_modules/.bin/openapi-typescript "$tmp/openapi.json" -o "$tmp/api.gen.ts" >/dev/null
if [ "${1:-}" = "--check" ]; then
  if ! cmp -s "$tmp/api.gen.ts" frontend/src/api.gen.ts; then
    echo "frontend/src/api.gen.ts differs from the API's OpenAPI document: run sh scripts/openapi-types.sh" >&2
    diff -u frontend/src/api.gen.ts "$tmp/api.gen.ts" | head -40 >&2 || true
    exit 1
  fi
else
  cp "$tmp/api.gen.ts" frontend/src/api.gen.ts
fi
