"""Engines and sessions for any SQLAlchemy async URL (SQLite embedded, PostgreSQL in production)."""

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/engagement.db"

# What one instance may take of the PostgreSQL server's connections (docs/deploy.md): room for a
# burst of turns without opening a connection (a server process) for each.
POSTGRES_POOL_SIZE = 10
POSTGRES_MAX_OVERFLOW = 10
# An execution option for connections that only read (`reads_of`).
READ_ONLY = "engagement_read_only"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    # Errors must not carry names, descriptions or emails into the logs.
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # SQLite lets one connection write at a time. Transactions that may write share one
        # connection and queue for it in the pool, first come first served; with a connection
        # each they queued in SQLite's busy handler, which sleeps and polls (two seconds at the
        # 99th percentile with twenty Sends at once). Reads have an engine of their own
        # (`reads_of`), so they never queue behind a writer.
        kwargs.setdefault("poolclass", AsyncAdaptedQueuePool)
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 60)
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", POSTGRES_POOL_SIZE)
    kwargs.setdefault("max_overflow", POSTGRES_MAX_OVERFLOW)
    return create_async_engine(url, **kwargs)


def _sqlite_engine(url: Any, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "connect", _sqlite_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def schema_changes_of(engine: AsyncEngine) -> AsyncEngine | None:
    """On a SQLite file, an engine to change the schema with, its foreign keys off: SQLite changes a
    table by building a new one, copying, dropping the old and renaming (Alembic's batch mode), and
    its documented procedure for that turns foreign key enforcement off around the change, then
    checks the keys with `PRAGMA foreign_key_check`. None elsewhere: change it with `engine`."""
    url = engine.url
    if engine.dialect.name != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    changing = _sqlite_engine(url, hide_parameters=True, poolclass=AsyncAdaptedQueuePool, pool_size=1)
    event.listen(changing.sync_engine, "connect", _foreign_keys_off)
    return changing


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")  # outside any transaction: it is ignored inside one
    cursor.close()


def reads_of(engine: AsyncEngine) -> AsyncEngine:
    """An engine for transactions that only read, to dispose of with `engine`: on SQLite (a
    file) one with connections of its own, which read beside the writer (WAL); elsewhere the
    same engine."""
    url = engine.url
    read_only = {READ_ONLY: True}
    if engine.dialect.name != "sqlite" or url.database in (None, "", ":memory:"):
        return engine.execution_options(**read_only)
    return _sqlite_engine(url, hide_parameters=True, execution_options=read_only)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """SQLAlchemy's recipe for SQLite transactions (its SQLite dialect documentation): the driver
    begins none itself, and `_sqlite_begin` begins each one."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite. WAL lets readers read while one connection
    # writes; a writer that finds another's transaction waits up to the busy timeout for it.
    # Temporary data stays in memory, not in files outside the register's own.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()



def _sqlite_begin(connection: Any) -> None:
    # A transaction that may write begins immediately: it takes the write lock as it begins, so
    # two that both read and then write queue at their start (busy timeout) instead of failing
    # when the second tries to upgrade its read lock, which SQLite answers at once with "locked".
    # One that only reads begins deferred, and reads beside the writer (WAL).
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
