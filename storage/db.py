"""Engines and sessions for any SQLAlchemy async URL (SQLite embedded, PostgreSQL in production)."""

import collections
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import EMPTY_DICT

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/engagement.db"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    parsed = make_url(url)
    if is_sqlite(url):
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Errors must not carry names, descriptions or emails into the logs.
        kwargs.setdefault("hide_parameters", True)
        # One connection: SQLite takes one writer at a time anyway, and waiting in the pool's queue
        # is fair and immediate, where SQLite's own busy handler sleeps and retries (seconds at
        # the 99th percentile with 20 turns at once).
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 60)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("hide_parameters", True)
    return create_async_engine(url, **kwargs)


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor that opens, executes, fetches and closes in one trip to aiosqlite's thread.

    SQLAlchemy's adapter makes a trip for each of the four, and each trip waits for the event loop
    and the GIL; with SQLite's one connection held for a whole invoke, those waits were most of a
    report's or decision's time under load. Server-side (streamed) cursors keep the stock class.
    """

    __slots__ = ("_description", "_lastrowid", "_rowcount")
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        raw = self._connection._conn

        def run() -> tuple[Any, list[Any], int, int | None]:
            cursor = raw.cursor()
            try:
                cursor.execute(operation, () if parameters is None else parameters)
                description = cursor.description
                rows = cursor.fetchall() if description else []
                return description, rows, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        async with self._adapt_connection._execute_mutex:
            self._description, rows, self._rowcount, self._lastrowid = await self._connection._execute(run)
        self._rows = collections.deque(rows)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        raw = self._connection._conn

        def run() -> tuple[int, int | None]:
            cursor = raw.cursor()
            try:
                cursor.executemany(operation, seq_of_parameters)
                return cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        async with self._adapt_connection._execute_mutex:
            self._rowcount, self._lastrowid = await self._connection._execute(run)
        self._description = None


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _OneTripCursor

    def _idle(self) -> bool:
        # Read between statements, when no trip of this connection's is under way: SQLAlchemy
        # hands a connection to one user at a time.
        raw = self._connection._conn
        return raw is not None and not raw.in_transaction

    def rollback(self) -> None:
        # The pool rolls back every connection it gets back. After reads alone SQLite has no
        # transaction open (it begins one at the first write), and the trip to say so was a
        # tenth of a message turn.
        if not self._idle():
            super().rollback()

    def commit(self) -> None:
        if not self._idle():
            super().commit()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = _OneTripConnection
    # Foreign keys are off by default in SQLite; WAL lets the outbox sender read while a
    # dialog writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
