"""``Store``: one session, every repository; ``StoreFactory`` opens transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from service.errors import Conflict, Unavailable
from service.store.assistants import AssistantRepository
from service.store.db import create_sessionmaker
from service.store.interrupts import InterruptRepository
from service.store.runs import RunRepository
from service.store.tenants import TenantRepository
from service.store.threads import ThreadRepository


class Store:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.tenants = TenantRepository(session)
        self.assistants = AssistantRepository(session)
        self.threads = ThreadRepository(session)
        self.runs = RunRepository(session)
        self.interrupts = InterruptRepository(session)

    async def flush(self) -> None:
        await self.session.flush()


class StoreFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = create_sessionmaker(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Store]:
        """One transaction: commits when the block ends, rolls back when it raises.

        Database errors become service errors: a unique-constraint race is a 409,
        a lost or refused connection is a 503 (the client may retry).
        """
        try:
            async with self._sessions() as session, session.begin():
                yield Store(session)
        except IntegrityError as exc:
            raise Conflict("The request conflicts with a concurrent change; retry.") from exc
        except (OperationalError, DBAPIError) as exc:
            if getattr(exc, "connection_invalidated", False) or isinstance(exc, OperationalError):
                raise Unavailable() from exc
            raise

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
