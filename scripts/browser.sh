#!/bin/sh
# Install Debian's Chromium for the browser tests when it is missing (Playwright drives
# /usr/bin/chromium; `playwright install` downloads its own builds and cannot work here).
set -eu
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "Chromium is missing: run 'apt-get install chromium' as root (needed by tests/browser)" >&2
  exit 1
fi
echo "installing Debian's chromium for the browser tests"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium >/dev/null
[ -x /usr/bin/chromium ] || { echo "chromium did not install to /usr/bin/chromium" >&2; exit 1; }
