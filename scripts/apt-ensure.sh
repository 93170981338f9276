#!/bin/sh
# Install a Debian package when its binary is missing: apt-ensure.sh BINARY PACKAGE WHO-NEEDS-IT
# (scripts/browser.sh and scripts/pgbouncer.sh use it; the tests never download anything else).
set -eu
binary=$1 package=$2 needed_by=$3
if [ -x "$binary" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "$package is missing: run 'apt-get install $package' as root (needed by $needed_by)" >&2
  exit 1
fi
echo "installing Debian's $package for $needed_by"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "$package" >/dev/null 2>&1 || {
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "$package" >/dev/null
}
[ -x "$binary" ] || { echo "$package did not install to $binary" >&2; exit 1; }
