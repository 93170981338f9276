"""``Store``: one session, every repository; ``StoreFactory`` opens transactions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from service import tenancy
from service.errors import Conflict, Unavailable
from service.store.assistant_versions import AssistantVersionRepository
from service.store.assistants import AssistantRepository
from service.store.audit import AuditRepository
from service.store.crons import CronRepository
from service.store.db import NO_AUTOCOMMIT_OPTION, READONLY_OPTION, create_sessionmaker
from service.store.idempotency import IdempotencyRepository
from service.store.interrupts import InterruptRepository
from service.store.policies import PolicyRepository
from service.store.runs import RunRepository
from service.store.tenants import TenantRepository
from service.store.threads import ThreadRepository
from service.store.webhooks import WebhookRepository

RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
_SET_LOCAL = "SELECT set_config($1, $2, true)"
_SET_SESSION = "SELECT set_config($1, $2, false)"


def _forget_tenant(conn: AsyncConnection) -> None:
    """A transaction that did not commit undid its set_config: the connection's remembered
    tenant is no longer true (and an invalidated connection has nothing to remember)."""
    with contextlib.suppress(Exception):
        conn.info.pop(tenancy.SETTING, None)


class Store:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.tenants = TenantRepository(session)
        self.assistants = AssistantRepository(session)
        self.assistant_versions = AssistantVersionRepository(session)
        self.threads = ThreadRepository(session)
        self.runs = RunRepository(session)
        self.interrupts = InterruptRepository(session)
        self.audit = AuditRepository(session)
        self.policies = PolicyRepository(session)
        self.idempotency = IdempotencyRepository(session)
        self.webhooks = WebhookRepository(session)
        self.crons = CronRepository(session)

    async def flush(self) -> None:
        await self.session.flush()


class StoreFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = create_sessionmaker(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _options(self, readonly: bool, single_statement: bool) -> dict[str, Any]:
        """Read-only work, and a write that is one statement, run in autocommit on Postgres:
        under READ COMMITTED each statement sees its own snapshot either way, and one
        statement is atomic by itself, so BEGIN and COMMIT would only cost two round trips.
        SQLite starts a read-only transaction with a plain BEGIN, so readers never wait for
        the write lock (writers take it at BEGIN IMMEDIATE)."""
        if self.dialect == "postgresql":
            if self.engine.get_execution_options().get(NO_AUTOCOMMIT_OPTION):
                return {}
            return {"isolation_level": "AUTOCOMMIT"} if readonly or single_statement else {}
        return {READONLY_OPTION: True} if readonly else {}

    @asynccontextmanager
    async def transaction(
        self, *, readonly: bool = False, single_statement: bool = False
    ) -> AsyncIterator[Store]:
        """One transaction: commits when the block ends, rolls back when it raises.

        Database errors become service errors: a unique-constraint race is a 409,
        a lost or refused connection is a 503 (the client may retry).
        """
        try:
            async with self._sessions() as session:
                options = self._options(readonly, single_statement)
                conn = await session.connection(execution_options=options)
                try:
                    await self._act_for(conn, tenancy.current())
                    yield Store(session)
                except BaseException:
                    _forget_tenant(conn)
                    await session.rollback()
                    raise
                try:
                    await session.commit()
                except BaseException:
                    _forget_tenant(conn)
                    raise
        except IntegrityError as exc:
            raise Conflict("The request conflicts with a concurrent change; retry.") from exc
        except PoolTimeout as exc:  # every connection busy for pool_timeout seconds
            raise Unavailable() from exc
        except (OperationalError, DBAPIError) as exc:
            if getattr(exc, "connection_invalidated", False) or isinstance(exc, OperationalError):
                raise Unavailable() from exc
            code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
            if code in RETRYABLE_SQLSTATES:
                raise Unavailable("The request raced a concurrent change; retry.") from exc
            raise

    async def _act_for(self, conn: AsyncConnection, tenant_id: str) -> None:
        """Set ``app.tenant_id`` for this transaction (row-level security, ``tenancy``).

        Set for the connection's session and remembered with it, so a connection that goes
        on serving one tenant (or the service's own work) pays nothing; behind a
        transaction-mode pooler (no autocommit) a session setting could reach another
        client, so there it is set for the transaction, every time.
        """
        if self.dialect != "postgresql":
            return
        if self.engine.get_execution_options().get(NO_AUTOCOMMIT_OPTION):
            await conn.exec_driver_sql(_SET_LOCAL, (tenancy.SETTING, tenant_id))
        elif conn.info.get(tenancy.SETTING) != tenant_id:
            await conn.exec_driver_sql(_SET_SESSION, (tenancy.SETTING, tenant_id))
            conn.info[tenancy.SETTING] = tenant_id

    async def bypasses_row_security(self) -> bool:
        """Whether the service's database role is exempt from row-level security (a
        superuser or BYPASSRLS role: the tenant policies of migration 0010 do not apply)."""
        if self.dialect != "postgresql":
            return False
        async with self.engine.connect() as conn:
            result = await conn.exec_driver_sql(
                "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
            )
            return bool(result.scalar())

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
