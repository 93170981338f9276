"""SQLite for the embedded default, run on the event loop's own thread (aiosqlite's interface).

aiosqlite runs every statement on a thread of its own and wakes the event loop for each
result. With the API and the worker in two processes writing one file, that hop is what
limits the embedded default: a write transaction of six statements holds SQLite's single
write lock across six turns of a busy event loop (5-7 ms under load) while the other process
sleeps in SQLite's busy handler. A statement on a local WAL file takes microseconds, and with
``synchronous=NORMAL`` a commit does not wait for the disk, so here statements run inline:
a transaction holds the lock only as long as its own code runs between statements.

Nothing blocks the loop waiting for the lock: connections get ``busy_timeout=0``, and a
statement that finds the database locked before its transaction has begun (``BEGIN
IMMEDIATE``, a statement in autocommit, a write that opens an implicit transaction) is
retried after an ``asyncio.sleep`` until the connection's ``timeout``; a conflict inside a
transaction raises, as with any driver. ``isolation_level`` keeps sqlite3's meaning (``None``:
the caller issues BEGIN; otherwise a write opens a transaction, here ``BEGIN IMMEDIATE``).

The shapes follow aiosqlite where SQLAlchemy's ``sqlite+aiosqlite`` dialect and LangGraph's
``AsyncSqliteSaver`` use them: ``await connect(...)`` or ``async with connect(...)``,
``cursor()``/``execute()`` both awaitable and async context managers, ``_conn``/``_tx``/
``_connection`` for the dialect's isolation-level setter and liveness checks.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
FIRST_RETRY_S, LONGEST_RETRY_S = 0.0002, 0.005


def _locked(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


class _Op(Generic[T]):
    """Awaitable, or an async context manager that closes what it made (aiosqlite's shape)."""

    def __init__(self, make: Callable[[], Awaitable[T]]) -> None:
        self._make = make
        self._made: T | None = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._make().__await__()

    async def __aenter__(self) -> T:
        self._made = await self._make()
        return self._made

    async def __aexit__(self, *_exc: object) -> None:
        close = getattr(self._made, "close", None)
        if close is not None:
            await close()


class InlineCursor:
    def __init__(self, conn: InlineConnection) -> None:
        self._conn = conn
        self._cursor = conn.raw.cursor()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        await self._conn.run(sql, lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        await self._conn.run(sql, lambda: self._cursor.executemany(sql, parameters))
        return self

    async def executescript(self, script: str) -> InlineCursor:
        self._cursor.executescript(script)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    async def close(self) -> None:
        self._cursor.close()

    async def __aiter__(self) -> AsyncIterator[Any]:
        while rows := self._cursor.fetchmany(100):
            for row in rows:
                yield row


class _Immediate:
    """Stands in for aiosqlite's request queue: runs the call at once, resolves its future."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting caller
            future.set_exception(error)


class InlineConnection:
    def __init__(self, raw: sqlite3.Connection, timeout: float) -> None:
        self.raw = raw
        self.timeout = timeout
        self._isolation_level: str | None = ""  # sqlite3's default: writes open a transaction
        self._conn = self  # the dialect's isolation-level setter assigns on ``_conn``
        self._tx = _Immediate()

    # ---- aiosqlite's surface -----------------------------------------------------------

    @property
    def _connection(self) -> sqlite3.Connection | None:
        return self.raw if self.is_alive() else None

    @property
    def isolation_level(self) -> str | None:
        return self._isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._isolation_level = value

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    def is_alive(self) -> bool:
        try:
            self.raw.total_changes  # noqa: B018 - raises once closed
        except sqlite3.ProgrammingError:
            return False
        return True

    def cursor(self) -> _Op[InlineCursor]:
        async def make() -> InlineCursor:
            return InlineCursor(self)

        return _Op(make)

    def execute(self, sql: str, parameters: Any = ()) -> _Op[InlineCursor]:
        async def make() -> InlineCursor:
            return await InlineCursor(self).execute(sql, parameters)

        return _Op(make)

    def executemany(self, sql: str, parameters: Iterable[Any]) -> _Op[InlineCursor]:
        async def make() -> InlineCursor:
            return await InlineCursor(self).executemany(sql, parameters)

        return _Op(make)

    def executescript(self, script: str) -> _Op[InlineCursor]:
        async def make() -> InlineCursor:
            return await InlineCursor(self).executescript(script)

        return _Op(make)

    async def commit(self) -> None:
        if self.raw.in_transaction:
            self.raw.execute("COMMIT")

    async def rollback(self) -> None:
        if self.raw.in_transaction:
            self.raw.execute("ROLLBACK")

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.raw.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.raw.close()

    def stop(self) -> None:
        self.raw.close()

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        """Awaiting an aiosqlite connection starts it; this one is started already."""

        async def started() -> InlineConnection:
            return self

        return started().__await__()

    async def __aenter__(self) -> InlineConnection:
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---- statements, without blocking on the lock --------------------------------------

    async def run(self, sql: str, statement: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + self.timeout
        delay = FIRST_RETRY_S
        while True:
            began = False
            try:
                if (
                    self._isolation_level is not None
                    and not self.raw.in_transaction
                    and sql.lstrip()[:7].upper().startswith(WRITES)
                ):
                    self.raw.execute("BEGIN IMMEDIATE")
                    began = True
                return statement()
            except sqlite3.OperationalError as error:
                if began and self.raw.in_transaction:  # the write after our BEGIN failed
                    self.raw.execute("ROLLBACK")
                if not _locked(error) or self.raw.in_transaction:
                    raise
                if time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, LONGEST_RETRY_S)


def connect(path: str, *, timeout: float = 30.0) -> _Op[InlineConnection]:
    """Open ``path`` (``await connect(...)`` or ``async with connect(...) as conn``)."""

    async def make() -> InlineConnection:
        raw = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        return InlineConnection(raw, timeout)

    return _Op(make)
