"""Test suite root. API tests run on both backends: embedded SQLite and real Postgres."""

import os

os.environ.setdefault("COUNTERSIGN_ENV", "test")

pytest_plugins = ["tests.fixtures.databases", "tests.fixtures.app"]
