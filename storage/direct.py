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

Statements that need each other's results run as a plan (`run_plan`): a generator that yields
each statement with its values and is sent back the rows. A report's Send writes the customer,
takes the year's next number, writes the incident, queues the cards that name them and chains
the audit events, each needing what the one before returned. Awaited one by one on SQLite,
each was a trip to aiosqlite's thread and back through the event loop (with the GIL to win
back each way), while every other writer waited for the writer's turn: four to six
milliseconds a Send at 20 at once, most of it waiting for the loop. On SQLite a plan runs whole
in the connection's thread, in one trip, and a plan that commits a transaction of its own is
committed together with any others waiting for the writer's turn meanwhile
(`storage.db.commit_together`); elsewhere statement by statement, as `rows` runs them.
What a plan computes between statements (a card, a hash) runs where the plan runs: keep it to
plain computation on the values it was given, with no awaits and nothing of the event loop's.
"""

import sqlite3
import weakref
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.sql.expression import Executable

from storage.compiled import Cache, Compiled, engine_error
from storage.db import can_commit_together, commit_together, in_one_trip, is_one_trip

Row = tuple[Any, ...]
Values = Mapping[str, Any]
T = TypeVar("T")
# A statement and its values: one row's (a mapping), or several rows' (a list) for one write.
Step = tuple[Executable, Values | Sequence[Values]]
Plan = Generator[Step, list[Row], T]

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
    compiled = _compiled(held, statement, values, many)
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
        raise await _as_engine_error(held, compiled.sql, parameters, error, cursor) from error
    return [compiled.row(tuple(r)) for r in cursor._rows], cursor.rowcount


def _compiled(held: _Held, statement: Executable, values: Any, many: bool) -> Compiled:
    # An INSERT or UPDATE given its values at execution is compiled for the columns given.
    keys = tuple(values[0] if many else values) if getattr(statement, "is_dml", False) else ()
    return held.cache.get(statement, keys, many=many)


@dataclass(frozen=True)
class _Done(Generic[T]):
    value: T


def _next(plan: Plan[T], answer: list[Row] | None) -> tuple[Any, Any, bool] | _Done[T]:
    """The plan's next statement, its values and whether they are many rows, given the rows the
    last one gave; a write of no rows is answered at once, without the database. `_Done` with
    what the plan returns when it has no more. Both drivers below step plans with it: awaited on
    PostgreSQL, in the connection's thread on SQLite."""
    while True:
        try:
            statement, values = plan.send(answer)  # type: ignore[arg-type]
        except StopIteration as done:
            return _Done(done.value)
        many = not isinstance(values, Mapping)
        if not many or values:
            return statement, values, many
        answer = []


async def run_plan(session: AsyncSession, plan: Plan[T], *, writes: bool = True, commit: bool = False) -> T:
    """Run a plan's statements in the session's transaction and return what it returns; with
    `commit`, commit the session after it (on SQLite in the same trip). A plan that writes takes
    SQLite's writer's turn before its first statement."""
    held = await _held(session)
    if held.driver != "aiosqlite":
        answer: list[Row] | None = None
        try:
            while not isinstance(step := _next(plan, answer), _Done):
                statement, values, many = step
                answer, _ = await _run(session, statement, values, many=many)
        finally:
            plan.close()
        if commit:
            await session.commit()
        return step.value

    failed: list[tuple[Compiled, Any]] = []
    together = commit and writes and can_commit_together(held.adapter)

    def work(raw: sqlite3.Connection) -> T:
        answer: list[Row] | None = None
        try:
            while not isinstance(step := _next(plan, answer), _Done):
                statement, values, many = step
                compiled = _compiled(held, statement, values, many)
                parameters = [compiled.parameters(v) for v in values] if many else compiled.parameters(values)
                cursor = raw.cursor()
                try:
                    if many:
                        cursor.executemany(compiled.sql, parameters)
                        answer = []
                    else:
                        cursor.execute(compiled.sql, parameters)
                        answer = [compiled.row(r) for r in cursor.fetchall()] if cursor.description else []
                except sqlite3.Error:
                    failed.append((compiled, parameters))
                    raise
                finally:
                    cursor.close()
        finally:
            plan.close()
        if commit and not together:
            raw.commit()
        return step.value

    try:
        if together:
            result = await commit_together(held.adapter, work)
        else:
            result = await in_one_trip(held.adapter, work, writes=writes)
        if commit:
            # Committed in the trip: this ends the session's transaction (and gives back the
            # writer's turn) without another.
            await session.commit()
        return result
    except sqlite3.Error as error:
        compiled, parameters = failed[-1] if failed else (None, None)
        raise await _as_engine_error(held, compiled.sql if compiled else None, parameters, error) from error


async def _as_engine_error(
    held: _Held, sql: str | None, parameters: Any, error: Exception, cursor: Any = None
) -> DBAPIError:
    """The driver's error as SQLAlchemy raises it; a connection that broke is invalidated, as
    SQLAlchemy does, so the pool does not hand it out again."""
    dialect = held.connection.dialect
    lost = dialect.is_disconnect(error, held.adapter, cursor)
    if lost:
        await held.connection.invalidate()
    base = sqlite3.Error if isinstance(error, sqlite3.Error) else held.adapter.dbapi.Error
    return engine_error(sql, parameters, error, base, dialect=dialect, lost=lost)
