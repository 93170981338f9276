#!/bin/sh
# Install Debian's PgBouncer when it is missing: `make test` runs the SDK end-to-end test and
# R1/R10 through it in transaction pooling mode (tests/fixtures/pgbouncer.py).
set -eu
[ -x /usr/sbin/pgbouncer ] && exit 0
echo "installing pgbouncer (Debian package)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q pgbouncer >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q pgbouncer >/dev/null; }
# the package starts its own service on port 6432; the tests start their own instance
service pgbouncer stop >/dev/null 2>&1 || true
[ -x /usr/sbin/pgbouncer ] || { echo "pgbouncer could not be installed" >&2; exit 1; }
