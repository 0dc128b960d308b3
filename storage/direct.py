"""Core statements run straight on a session's own driver connection, inside its transaction.

A report's Send and a manager's decision run a dozen statements each, and SQLAlchemy's execution
of each (the session's connection looked up, an execution context built, events fired, the result
wrapped) cost more of the bot's CPU than the statements did: a third of a Send. Here a statement
is compiled once (`storage.compiled`) and handed to the driver adapter SQLAlchemy made for the
session's connection, so it is still in the session's transaction, commits or rolls back with it,
and on SQLite still takes the writer's turn and may go later (`SENT_LATER`) as any statement does
(`storage.db`). Errors are raised as SQLAlchemy raises them (`IntegrityError` and the rest),
without their parameters. Drivers other than aiosqlite and asyncpg run through SQLAlchemy.

Nothing here flushes the ORM session first, as nothing did when these statements ran through
`session.connection()`: a caller that added ORM objects a statement depends on flushes them.
"""

import sqlite3
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.sql.expression import Executable

from storage.compiled import Cache, Compiled
from storage.db import is_one_trip

Row = tuple[Any, ...]
Values = Mapping[str, Any]

_HELD = "storage.direct"
_CACHES: "weakref.WeakKeyDictionary[Any, Cache]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class _Held:
    """The session's transaction, and the connection and driver adapter it holds."""

    transaction: SessionTransaction
    connection: AsyncConnection
    adapter: Any
    driver: str  # "aiosqlite", "asyncpg", or another that runs through SQLAlchemy
    cache: Cache


async def _held(session: AsyncSession) -> _Held:
    held: _Held | None = session.info.get(_HELD)
    if held is not None and held.transaction is session.sync_session.get_transaction():
        return held
    connection = await session.connection()
    transaction = session.sync_session.get_transaction()
    assert transaction is not None  # session.connection() began one
    adapter = (await connection.get_raw_connection()).dbapi_connection
    dialect = connection.dialect
    driver = dialect.driver
    if driver not in ("aiosqlite", "asyncpg") or (driver == "aiosqlite" and not is_one_trip(adapter)):
        driver = "sqlalchemy"
    cache = _CACHES.get(dialect)
    if cache is None:
        cache = _CACHES[dialect] = Cache(dialect)
    held = _Held(transaction, connection, adapter, driver, cache)
    session.info[_HELD] = held
    return held


async def rows(session: AsyncSession, statement: Executable, values: Values | None = None) -> list[Row]:
    """The rows `statement` gives (a SELECT, or a write with RETURNING), converted as SQLAlchemy
    converts them."""
    found, _ = await _run(session, statement, values or {}, many=False)
    return found


async def first(session: AsyncSession, statement: Executable, values: Values | None = None) -> Row | None:
    found = await rows(session, statement, values)
    return found[0] if found else None


async def first_mapping(
    session: AsyncSession, statement: Executable, values: Values | None = None
) -> dict[str, Any] | None:
    """The first row as `Row._mapping` gives it: by each column's key or label."""
    held = await _held(session)
    if held.driver == "sqlalchemy":
        row = (await held.connection.execute(statement, dict(values or {}))).first()
        return dict(row._mapping) if row is not None else None
    found = await rows(session, statement, values)
    if not found:
        return None
    return dict(zip(held.cache.get(statement).columns, found[0], strict=True))


async def one(session: AsyncSession, statement: Executable, values: Values | None = None) -> Row:
    """The one row `statement` gives, as `Result.one()`: anything else is an error."""
    found = await rows(session, statement, values)
    if not found:
        raise NoResultFound("No row was found when one was required")
    if len(found) > 1:
        raise MultipleResultsFound("Multiple rows were found when exactly one was required")
    return found[0]


async def flush(session: AsyncSession) -> None:
    """Write what the session holds unwritten, as its autoflush would, before a statement that
    must see it; nothing pending costs nothing."""
    if session.new or session.deleted or session.dirty:
        await session.flush()


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def write(session: AsyncSession, statement: Executable, values: Values | Sequence[Values]) -> int:
    """Run a write once, or once for each of several rows (a list), ignoring any rows it
    returns; returns how many rows it changed, where the driver says (-1 where not, and for a
    write sent later on SQLite)."""
    if isinstance(values, Mapping):
        _, count = await _run(session, statement, values, many=False)
        return count
    if not values:
        return 0
    _, count = await _run(session, statement, values, many=True)
    return count


async def _run(
    session: AsyncSession, statement: Executable, values: Any, *, many: bool
) -> tuple[list[Row], int]:
    held = await _held(session)
    if held.driver == "sqlalchemy":
        result = await held.connection.execute(statement, list(values) if many else dict(values))
        return ([tuple(r) for r in result] if result.returns_rows else []), result.rowcount
    keys = tuple(values[0] if many else values) if getattr(statement, "is_dml", False) else ()
    compiled = held.cache.get(statement, keys, many=many)
    parameters = [compiled.parameters(v) for v in values] if many else compiled.parameters(values)
    cursor = held.adapter.cursor()
    try:
        if held.driver == "aiosqlite":
            cursor._later = compiled.later
            if many:
                await cursor._executemany_async(compiled.sql, parameters)
            else:
                await cursor._execute_async(compiled.sql, parameters)
        elif many:
            await cursor._executemany(compiled.sql, parameters)
        else:
            await cursor._prepare_and_execute(compiled.sql, parameters)
    except (sqlite3.Error, held.adapter.dbapi.Error) as error:
        raise await _as_engine_error(held, compiled, parameters, error, cursor) from error
    return [compiled.row(tuple(r)) for r in cursor._rows], cursor.rowcount


async def _as_engine_error(
    held: _Held, compiled: Compiled, parameters: Any, error: Exception, cursor: Any
) -> DBAPIError:
    """The driver's error as SQLAlchemy raises it (so `IntegrityError` is caught where it was),
    parameters hidden; a connection that broke is invalidated, as SQLAlchemy does, so the pool
    does not hand it out again."""
    dialect = held.connection.dialect
    lost = dialect.is_disconnect(error, held.adapter, cursor)
    if lost:
        await held.connection.invalidate()
    base = sqlite3.Error if isinstance(error, sqlite3.Error) else held.adapter.dbapi.Error
    return DBAPIError.instance(
        compiled.sql,
        parameters,
        error,
        base,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=dialect,
    )
