"""Alembic environment for the service tables (checkpoint tables come from the saver).

``countersign migrate`` and the embedded start-up pass an open connection in
``config.attributes["connection"]``; the plain ``alembic`` command builds an engine
from the settings.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from service.models import Base
from service.settings import get_settings
from service.store.db import create_engine

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(get_settings().sqlalchemy_url, application_name="countersign-migrate")
    async with engine.begin() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


connection: Any = context.config.attributes.get("connection")
if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; use `countersign migrate`")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async())
