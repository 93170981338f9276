"""Migration 0013: tenants seeded before the store and crons existed get their grants, for
the built-in roles they still have, once; new tenants get the same rows from the seed."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from service.store import migrations
from service.store.db import create_engine
from tests.fixtures.app import ROOT, make_settings
from tests.fixtures.databases import fresh_database

OLD_SEED = [  # what a tenant seeded before 0013 holds (a few of its rules)
    ("p", "role:viewer", "t-old", "threads", "read", "any"),
    ("p", "role:agent", "t-old", "runs", "create", "own"),
    ("p", "role:tenant_admin", "t-old", "policies", "edit", "any"),
    ("p", "role:viewer", "t-noagent", "threads", "read", "any"),  # its admin deleted the agent
    ("p", "role:viewer", "t-granted", "threads", "read", "any"),
    ("p", "role:viewer", "t-granted", "store", "read", "any"),  # granted by hand already
]


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield ""
    else:
        with fresh_database() as url:
            yield url


async def test_existing_tenants_get_the_store_and_cron_grants(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(make_settings(tmp_path, database_url).sqlalchemy_url)
    try:
        await migrations.upgrade(engine, "0012")
        async with engine.begin() as conn:
            for row in OLD_SEED:
                await conn.execute(
                    text(
                        "INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4) "
                        "VALUES (:p, :r, :d, :o, :a, :s)"
                    ),
                    dict(zip(("p", "r", "d", "o", "a", "s"), row, strict=True)),
                )
        await migrations.upgrade(engine)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT v1, v0, v2, v3, v4, v5 FROM casbin_rule "
                        "WHERE v2 IN ('store', 'crons') ORDER BY v1, v0, v2, v3"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    got = {tuple(r) for r in rows}
    assert {r for r in got if r[0] == "t-old"} == {
        ("t-old", "role:viewer", "store", "read", "any", None),
        ("t-old", "role:viewer", "crons", "read", "any", None),
        ("t-old", "role:agent", "store", "read", "any", None),
        ("t-old", "role:agent", "store", "write", "any", None),
        ("t-old", "role:agent", "crons", "read", "own", None),
        ("t-old", "role:agent", "crons", "write", "own", None),
        ("t-old", "role:tenant_admin", "store", "write", "any", None),
        ("t-old", "role:tenant_admin", "crons", "write", "any", None),
    }
    assert not [r for r in got if r[0] == "t-noagent" and r[1] == "role:agent"]
    assert len(rows) == len(got)  # nothing twice: the hand-made grant stays the only one
    assert sorted(r for r in got if r[0] == "t-granted") == [
        ("t-granted", "role:viewer", "crons", "read", "any", None),
        ("t-granted", "role:viewer", "store", "read", "any", None),
    ]


def test_the_grants_are_the_seeds() -> None:
    """0013 grants what the default policy seeds a new tenant with, nothing else."""
    source = next((ROOT / "alembic" / "versions").glob("*_0013_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0013", source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seeded = {
        tuple(part.strip() for part in line.split(","))
        for line in (ROOT / "policies" / "default_policy.csv").read_text().splitlines()
        if line.startswith("p,")
    }
    wanted = {("p", role, "_tenant", obj, act, scope) for role, obj, act, scope in module.GRANTS}
    assert wanted <= seeded
    assert {r for r in seeded if r[3] in ("store", "crons")} == wanted
