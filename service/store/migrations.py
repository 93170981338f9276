"""Run Alembic migrations on an open engine (embedded start-up, CLI, tests).

Alembic is imported when a migration runs, not with this module: the production API and
worker never migrate (the operator's ``countersign migrate`` does), and importing it costs
them a sixth of a second at start-up (SPEC P7).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from service.paths import app_root

if TYPE_CHECKING:
    from alembic.config import Config

_LOCK_KEY = 0x4D696772617465  # "Migrate": one migrator at a time on Postgres


def _config(connection: Connection) -> Config:
    from alembic.config import Config

    root = app_root()
    cfg = Config(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "alembic"))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    from alembic import command

    async with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            await connection.exec_driver_sql(f"SELECT pg_advisory_lock({_LOCK_KEY})")
            await connection.commit()
        try:
            await connection.run_sync(lambda sync: command.upgrade(_config(sync), revision))
            await connection.commit()
        finally:
            if postgres:
                await connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_LOCK_KEY})")
                await connection.commit()
