#!/bin/sh
# Install Debian's PgBouncer when it is missing: `make test` runs the SDK end-to-end test and
# R1/R10 through it in transaction pooling mode (tests/fixtures/pgbouncer.py).
set -eu
[ -x /usr/sbin/pgbouncer ] && exit 0
sh "$(dirname "$0")/apt-ensure.sh" /usr/sbin/pgbouncer pgbouncer "make test-pgbouncer"
# the package may start its own service on port 6432; the tests start their own instance
service pgbouncer stop >/dev/null 2>&1 || true
