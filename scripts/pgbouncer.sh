#!/bin/sh
# Install Debian's PgBouncer when it is missing: `make test` runs the SDK end-to-end test and
# R1/R10 through it in transaction pooling mode (tests/fixtures/pgbouncer.py).
set -eu
if [ -x /usr/sbin/pgbouncer ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "PgBouncer is missing: run 'apt-get install pgbouncer' as root (needed by make test-pgbouncer)" >&2
  exit 1
fi
echo "installing Debian's pgbouncer for the PgBouncer tests"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq pgbouncer >/dev/null 2>&1 || {
  apt-get update -qq >/dev/null
  apt-get install -y -qq pgbouncer >/dev/null
}
# the package may start its own service on port 6432; the tests start their own instance
service pgbouncer stop >/dev/null 2>&1 || true
[ -x /usr/sbin/pgbouncer ] || { echo "pgbouncer did not install to /usr/sbin/pgbouncer" >&2; exit 1; }
