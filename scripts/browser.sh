#!/bin/sh
# Install Debian's Chromium for the browser tests when it is missing (Playwright drives
# /usr/bin/chromium; `playwright install` downloads its own builds and cannot work here).
set -eu
sh "$(dirname "$0")/apt-ensure.sh" /usr/bin/chromium chromium tests/browser
