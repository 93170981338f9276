"""Engines and sessions for Postgres (asyncpg) and the embedded SQLite file (aiosqlite).

Postgres caches named prepared statements per connection (one round trip per query once
warm). PgBouncer 1.21+ in transaction mode tracks them (``max_prepared_statements``); for
older poolers ``prepared_statements=False`` gives every statement a unique name and never
reuses it, so nothing depends on which server connection runs it.

SQLite runs in WAL mode and takes the write lock when a transaction begins
(``BEGIN IMMEDIATE``), so concurrent writers queue instead of failing to upgrade.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from service import sqlite_inline
from service.errors import StartupError

READONLY_OPTION = "countersign_readonly"
NO_AUTOCOMMIT_OPTION = "countersign_no_autocommit"

_NO_PREPARED_STATEMENTS: dict[str, Any] = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": lambda: f"__cs_{uuid.uuid4().hex}__",
}


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    application_name: str = "countersign",
    prepared_statements: bool = True,
) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        path = parsed.database or ":memory:"
        engine = create_async_engine(
            url,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            # statements on the event loop's thread, never blocking it on the lock
            async_creator=lambda: sqlite_inline.connect(path, timeout=30),
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        _configure_sqlite(engine)
        return engine
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # no pre-ping: it costs a round trip per transaction; a connection the server has
        # ended is caught at checkout instead (below), for free
        pool_recycle=1800,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={
            **({} if prepared_statements else _NO_PREPARED_STATEMENTS),
            "server_settings": {"application_name": application_name},
        },
    )
    _discard_closed_connections(engine)
    if not prepared_statements:
        # asyncpg parses and executes in two round trips: outside a transaction a pooler in
        # transaction mode may send them to two server connections
        return engine.execution_options(**{NO_AUTOCOMMIT_OPTION: True})
    return engine


def _discard_closed_connections(engine: AsyncEngine) -> None:
    """A pooled connection that the server ended (restart, ``pg_terminate_backend``, idle
    timeout) is replaced when it is checked out, not handed to a transaction to fail in:
    asyncpg reads the server's goodbye as it comes, so ``is_closed()`` costs no round trip.
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this pooled connection")


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=0")  # a locked database is waited for asynchronously
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        readonly = connection.get_execution_options().get(READONLY_OPTION)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def inject_transient_faults(engine: AsyncEngine, fails: Callable[[], bool]) -> None:
    """Test processes only (R19): a statement ``fails()`` picks raises, before it is sent, the
    driver's OperationalError, as a broken connection does (the service answers 503 or retries)."""
    error = engine.dialect.loaded_dbapi.OperationalError

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def maybe_fail(*_args: Any) -> None:
        if fails():
            raise error("injected transient fault (R19)")


def _where(url: str) -> str:
    """host:port/database of a URL, never its user or password."""
    parsed = make_url(url)
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    return f"{where}/{parsed.database}" if parsed.database else where


async def probe_postgres(url: str, *, named: str, timeout: float) -> None:
    """Connect once within ``timeout``; a failure is a ``StartupError`` naming ``named`` (the
    setting that holds the URL) and the host, port and database, never the password."""
    import asyncpg  # type: ignore[import-untyped]

    try:
        where = _where(url)
    except ArgumentError as exc:
        raise StartupError(f"{named} is not a database URL") from exc
    try:
        connection = await asyncpg.connect(url, timeout=timeout)
    except TimeoutError as exc:
        raise StartupError(
            f"the database at {where} did not answer within {timeout:.0f} s ({named})"
        ) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StartupError(f"cannot reach the database at {where} ({named}): {reason}") from exc
    except asyncpg.InvalidCatalogNameError as exc:
        raise StartupError(
            f"the database {where} does not exist ({named}): create it, then run "
            "`countersign migrate`"
        ) from exc
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
        raise StartupError(
            f"the database at {where} refused the connection ({named}): {exc}"
        ) from exc
    await connection.close()
