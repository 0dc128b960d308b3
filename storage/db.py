"""Engines and sessions for any SQLAlchemy async URL (SQLite embedded, PostgreSQL in production)."""

import asyncio
import collections
import contextlib
import fcntl
import functools
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import aiosqlite
from sqlalchemy import Select, event, text
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_only

from storage.compiled import SENT_LATER_KEY, Cache, Compiled, engine_error

T = TypeVar("T")

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/engagement.db"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


POSTGRES_CONNECTIONS = 20
# Enough for the reads of the turns in flight to overlap; each is a thread of aiosqlite's. A
# transaction waiting to be committed together holds its connection, so this also bounds how many
# go in one commit: eight did a seventh more Sends and decisions than four (two workers or one).
SQLITE_CONNECTIONS = 8
# Statements that make pysqlite open a transaction (it does so before these, and only these) or
# that open one themselves.
_WRITES = ("insert", "update", "delete", "replace", "savepoint")


class _WriterTurns:
    """SQLite lets one connection write at a time. Its own busy handler makes the others sleep
    and retry (seconds at the 99th percentile with 20 turns at once); here they queue instead,
    first come first served, from a transaction's first write until its commit or rollback, and
    read freely before it.

    A register on disk is shared by every process that opens it: the bot's workers (`engagement-bot
    serve --workers`) and the command line's tasks. Those queue on a lock file beside it (`flock`),
    taken after this process's own turn: the kernel wakes the next waiter the moment a writer lets
    go, where SQLite's busy handler polls. SQLite's own locks still guard the register; the lock
    file only orders the writers.
    """

    def __init__(self, lock_path: str | None = None) -> None:
        self._lock = asyncio.Lock()
        # Plans waiting to be committed together (`commit_together`), and the task that will.
        # A trip's thread takes from it too (`_run_together`): a deque's ends are thread-safe.
        self.together: collections.deque[_Together[Any]] = collections.deque()
        self.leader: asyncio.Task[None] | None = None
        self._lock_path = lock_path
        self._fd: int | None = None
        # The descriptor through which this process holds the lock file for `take`, if it does.
        self._held_by: int | None = None
        # Where a writer blocks for the lock file: one thread, so a wait abandoned by a cancelled
        # turn has let go again before the next wait begins.
        self._waits: ThreadPoolExecutor | None = None

    def lock_file(self) -> int | None:
        """The lock file's descriptor, this process's own (opened after any fork, as a lock held
        through a descriptor shared with another process would be held for both)."""
        if self._lock_path is None:
            return None
        if self._fd is None:
            self._fd = _open_lock_file(self._lock_path)
        return self._fd

    async def take(self) -> None:
        """This process's turn, then the lock file's: held until `give_back`."""
        await self.take_here()
        try:
            await self._take_file()
        except BaseException:
            self._lock.release()
            raise

    async def take_here(self) -> None:
        """This process's turn alone, for a trip that takes the lock file in its own thread."""
        await self._lock.acquire()

    async def _take_file(self) -> None:
        fd = self.lock_file()
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            self._held_by = fd
            return
        # A wait has a descriptor of its own: one abandoned (its turn cancelled) holds the lock,
        # when it comes, through that descriptor alone, and closing it lets go; on a descriptor
        # shared with a later trip it would have let go of that trip's lock too.
        own = _open_lock_file(self._lock_path)  # type: ignore[arg-type]
        if self._waits is None:
            self._waits = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer-lock")
        waiting = self._waits.submit(fcntl.flock, own, fcntl.LOCK_EX)
        try:
            await asyncio.wrap_future(waiting)
        except BaseException:
            waiting.add_done_callback(lambda _: os.close(own))
            raise
        self._held_by = own

    def give_back(self) -> None:
        held, self._held_by = self._held_by, None
        if held is not None:
            _unlock(held)
            if held != self._fd:
                os.close(held)
        self._lock.release()

    def close(self) -> None:
        waits, self._waits = self._waits, None
        if waits is not None:
            waits.shutdown(wait=False, cancel_futures=True)
        # Not while a writer or a trip may still hold it: the process's end closes it then.
        if self._fd is not None and not self._lock.locked():
            os.close(self._fd)
            self._fd = None


def _open_lock_file(path: str) -> int:
    """Read and write where the process may; read-only will do, as `flock` needs no more. Made
    by root (a task on the command line run with sudo), it goes to the register's owner, as
    SQLite's own -wal and -shm files do, so that the bot can still open it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except PermissionError:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    if os.geteuid() == 0:
        with contextlib.suppress(OSError):
            register = os.stat(path.removesuffix(_LOCK_SUFFIX))
            os.fchown(fd, register.st_uid, register.st_gid)
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)


_LOCK_SUFFIX = "-writer"


def _lock_path(database: str) -> str:
    return database + _LOCK_SUFFIX


def _opens_a_write(operation: str) -> bool:
    return operation.lstrip()[:9].lower().startswith(_WRITES)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    parsed = make_url(url)
    if is_sqlite(url):
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Errors must not carry names, descriptions or emails into the logs.
        kwargs.setdefault("hide_parameters", True)
        # A few connections read side by side (WAL lets them), and they take turns to write by
        # `_WriterTurns` below. An in-memory database is one per connection: it gets one.
        in_memory = not database or database == ":memory:"
        kwargs.setdefault("pool_size", 1 if in_memory else SQLITE_CONNECTIONS)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 60)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        writer = _WriterTurns(None if in_memory else _lock_path(database))
        event.listen(engine.sync_engine, "connect", lambda conn, record: _sqlite_pragmas(conn, writer))
        event.listen(engine.sync_engine, "engine_disposed", lambda _: writer.close())
        event.listen(engine.sync_engine, "before_cursor_execute", _mark_sent_later)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # Room for a burst of turns without opening and closing connections for each (the default
    # five, with ten more closed again after use, churned at 20 at once: each new connection
    # costs PostgreSQL a process and asyncpg its statements prepared again), and a bound on what
    # one instance takes of the server's connections (docs/deploy.md).
    kwargs.setdefault("pool_size", POSTGRES_CONNECTIONS)
    kwargs.setdefault("max_overflow", 0)
    kwargs.setdefault("hide_parameters", True)
    return create_async_engine(url, **kwargs)


def _mark_sent_later(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    if isinstance(cursor, _OneTripCursor):
        cursor._later = bool(context is not None and context.execution_options.get(SENT_LATER_KEY))


# (operation, parameters, executemany) of statements sent later, in the order they were made.
_Waiting = list[tuple[Any, Any, bool]]


def _take_waiting(connection: aiosqlite.Connection) -> _Waiting:
    """The statements waiting on a connection, which no longer holds them."""
    waiting: _Waiting = connection._waiting  # type: ignore[attr-defined]
    if waiting:
        connection._waiting = []  # type: ignore[attr-defined]
    return waiting


def _run_waiting(raw: sqlite3.Connection, waiting: _Waiting) -> None:
    for operation, parameters, many in waiting:
        cursor = raw.cursor()
        try:
            if many:
                cursor.executemany(operation, parameters)
            else:
                cursor.execute(operation, () if parameters is None else parameters)
        finally:
            cursor.close()


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor that opens, executes, fetches and closes in one trip to aiosqlite's thread, with
    any statements sent later (`SENT_LATER`) waiting on its connection before it.

    SQLAlchemy's adapter makes a trip for each of the four, and each trip waits for the event loop
    and the GIL; with SQLite's one connection held for a whole invoke, those waits were most of a
    report's or decision's time under load. Server-side (streamed) cursors keep the stock class.
    """

    __slots__ = ("_description", "_lastrowid", "_later", "_rowcount")
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
        self._later = False

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    def _wait(self, operation: Any, parameters: Any, many: bool) -> bool:
        """Keep a statement sent later on the connection, if it can wait: only inside a
        transaction (without one, pysqlite would commit it alone)."""
        if not self._later or self._connection._conn.isolation_level is None:
            return False
        self._connection._waiting.append((operation, parameters, many))  # type: ignore[attr-defined]
        self._description, self._rowcount, self._lastrowid = None, -1, None
        self._rows = collections.deque()
        return True

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        raw = self._connection._conn
        await self._adapt_connection._before(operation)
        if self._wait(operation, parameters, many=False):
            return
        waiting = _take_waiting(self._connection)

        def run() -> tuple[Any, list[Any], int, int | None]:
            _run_waiting(raw, waiting)
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
        await self._adapt_connection._before(operation)
        if self._wait(operation, seq_of_parameters, many=True):
            return
        waiting = _take_waiting(self._connection)

        def run() -> tuple[int, int | None]:
            _run_waiting(raw, waiting)
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

    # The turn-taking state lives on aiosqlite's connection: this class is swapped onto
    # SQLAlchemy's adapter after it is made, so it can add no slots of its own.
    @property
    def _turns(self) -> _WriterTurns:
        return self._connection._writer_turns  # type: ignore[attr-defined]

    async def _before(self, operation: str) -> None:
        if (
            not self._connection._holds_writer_turn  # type: ignore[attr-defined]
            and _opens_a_write(operation)
            # Without an isolation level pysqlite opens no transaction, so no commit would end
            # the turn: SQLite's own lock covers each such statement alone.
            and self._connection._conn.isolation_level is not None
        ):
            await self._turns.take()
            self._connection._holds_writer_turn = True  # type: ignore[attr-defined]

    def _end_turn(self) -> None:
        if self._connection._holds_writer_turn:  # type: ignore[attr-defined]
            self._connection._holds_writer_turn = False  # type: ignore[attr-defined]
            self._turns.give_back()

    def _idle(self) -> bool:
        # Read between statements, when no trip of this connection's is under way: SQLAlchemy
        # hands a connection to one user at a time.
        raw = self._connection._conn
        return raw is not None and not raw.in_transaction and not self._connection._waiting  # type: ignore[attr-defined]

    def rollback(self) -> None:
        # The pool rolls back every connection it gets back. After reads alone SQLite has no
        # transaction open (it begins one at the first write), and the trip to say so was a
        # tenth of a message turn.
        try:
            _take_waiting(self._connection)
            if not self._idle():
                super().rollback()
        finally:
            self._end_turn()

    def commit(self) -> None:
        try:
            if self._idle():
                return
            waiting = _take_waiting(self._connection)
            if not waiting:
                super().commit()
                return
            raw = self._connection._conn

            def run() -> None:
                try:
                    _run_waiting(raw, waiting)
                except BaseException:
                    # Nothing of the transaction may stay half-written on the connection.
                    raw.rollback()
                    raise
                raw.commit()

            try:
                await_only(self._connection._execute(run))
            except Exception as error:
                self._handle_exception(error)
        finally:
            self._end_turn()

    def close(self) -> None:
        try:
            _take_waiting(self._connection)
            super().close()
        finally:
            self._end_turn()

    def terminate(self) -> None:
        try:
            _take_waiting(self._connection)
            super().terminate()
        finally:
            self._end_turn()


async def in_one_trip(adapter: Any, work: Callable[[sqlite3.Connection], T], *, writes: bool) -> T:
    """Run `work` on the connection's own sqlite3 connection in aiosqlite's thread: one trip,
    after any statements waiting to go later, in the connection's transaction. Work that writes
    takes the writer's turn first, as its first write statement would."""
    connection = adapter._connection
    if writes:
        await adapter._before("insert")
    waiting = _take_waiting(connection)
    raw = connection._conn

    def run() -> T:
        _run_waiting(raw, waiting)
        return work(raw)

    async with adapter._execute_mutex:
        return await connection._execute(run)


# Compared by identity: `deque.remove` then runs no Python code, and so cannot let the trip's
# thread take from the deque in the middle of it.
@dataclass(eq=False)
class _Together(Generic[T]):
    """A transaction's work waiting to be committed with others, and where its outcome goes."""

    adapter: Any
    work: Callable[[sqlite3.Connection], T]
    outcome: "asyncio.Future[T]"
    # Whether a trip runs on this transaction's own connection (the first of its batch).
    carries: bool = False


def can_commit_together(adapter: Any) -> bool:
    """Whether a transaction on this connection may be committed with others': nothing of its
    own written or waiting yet, so all it will write is the work given to `commit_together`."""
    return (
        isinstance(adapter, _OneTripConnection)
        and adapter._idle()
        and not adapter._connection._holds_writer_turn
    )


async def commit_together(adapter: Any, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run `work` as a transaction of its own and commit it, together with the work of any other
    transactions waiting for the writer's turn meanwhile: one trip to a connection's thread and
    one commit for them all.

    SQLite commits one transaction at a time, each with a sync of its log to disk, and each turn
    had to come back through the event loop and win the GIL again before the next could start:
    with twenty reports and decisions at once the writer's turn was held nearly all the time,
    about five milliseconds a transaction. Here each transaction keeps its own outcome: it runs
    under a savepoint, and one that fails is rolled back to it alone, its error raised to its
    caller while the others commit. None is answered before the commit that holds it succeeded,
    and if that commit fails they all fail. Transactions run in the order they asked, each
    seeing the ones before it, as they would one after the other.
    """
    turns: _WriterTurns = adapter._connection._writer_turns
    entry = _Together(adapter, work, asyncio.get_running_loop().create_future())
    turns.together.append(entry)
    if turns.leader is None or turns.leader.done():
        turns.leader = asyncio.create_task(_commit_waiting(turns))
    try:
        return await asyncio.shield(entry.outcome)
    except asyncio.CancelledError:
        try:
            turns.together.remove(entry)  # not yet taken by a trip: it never runs
        except ValueError:
            # Taken. A trip running on this transaction's connection must end before the
            # connection goes back to the pool; `_commit_waiting` always settles its outcome.
            if entry.carries:
                with contextlib.suppress(BaseException):
                    await entry.outcome
        raise


async def _commit_waiting(turns: _WriterTurns) -> None:
    """Take the writer's turn, then run and commit every transaction waiting, until none wait."""
    while turns.together:
        await turns.take_here()
        try:
            try:
                first = turns.together.popleft()
            except IndexError:  # the last one was cancelled meanwhile
                continue
            # The trip runs on the first's connection; its thread takes the others.
            first.carries = True
            batch = [first]
            try:
                # This process's turn is held already; the trip takes the lock file in its thread,
                # only for as long as the transaction lasts.
                run = functools.partial(
                    _run_together, batch=batch, waiting=turns.together, lock_file=turns.lock_file()
                )
                outcomes = await in_one_trip(first.adapter, run, writes=False)
            except BaseException as error:  # the commit failed, or the bot is stopping
                _fail((entry.outcome for entry in batch), error)
                if not isinstance(error, Exception):
                    raise
                continue
            for entry, (ok, value) in zip(batch, outcomes, strict=True):
                if entry.outcome.done():
                    continue
                if ok:
                    entry.outcome.set_result(value)
                else:
                    entry.outcome.set_exception(value)
        finally:
            turns.give_back()


def _run_together(
    raw: sqlite3.Connection,
    batch: list[_Together[Any]],
    waiting: "collections.deque[_Together[Any]]",
    lock_file: int | None,
) -> list[tuple[bool, Any]]:
    """In the connection's thread: each transaction's work under a savepoint, then one commit,
    holding the register's lock file from the transaction's beginning to its commit.

    Those that asked while this trip waited for the lock (another process writing) join it once
    it is held, rather than wait for the lock again on a trip of their own."""
    if lock_file is not None:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
    try:
        while waiting:
            try:
                batch.append(waiting.popleft())
            except IndexError:  # the last one was cancelled meanwhile
                break
        return _savepoint_each(raw, batch)
    finally:
        _unlock(lock_file)


def _savepoint_each(raw: sqlite3.Connection, batch: list[_Together[Any]]) -> list[tuple[bool, Any]]:
    outcomes: list[tuple[bool, Any]] = []
    raw.execute("BEGIN IMMEDIATE")
    try:
        for entry in batch:
            raw.execute("SAVEPOINT together")
            try:
                value = entry.work(raw)
            except Exception as error:
                raw.execute("ROLLBACK TO together")
                raw.execute("RELEASE together")
                outcomes.append((False, error))
            else:
                raw.execute("RELEASE together")
                outcomes.append((True, value))
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    return outcomes


def is_one_trip(adapter: Any) -> bool:
    """Whether SQLAlchemy's adapter of a connection is this module's SQLite one."""
    return isinstance(adapter, _OneTripConnection)


def _sqlite_pragmas(dbapi_connection: Any, writer: _WriterTurns) -> None:
    if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = _OneTripConnection
        dbapi_connection._connection._writer_turns = writer
        dbapi_connection._connection._holds_writer_turn = False
        dbapi_connection._connection._waiting = []
    # Foreign keys are off by default in SQLite; WAL lets the outbox sender read while a
    # dialog writes. Temporary data stays in memory: a savepoint's journal (each transaction
    # committed together has one) spilled past 64 KiB into a file in /var/tmp, created, written
    # and deleted inside the writer's turn, with copies of the register's pages (names,
    # descriptions) on a disk outside the register's own.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


class Reader:
    """The read every turn makes before anything else: who is talking and with what roles.

    It goes straight to the driver, the statement compiled once, without SQLAlchemy's pool and
    execution machinery, which on a message turn cost more than the query (with PostgreSQL a
    pre-ping and a rollback round trip besides). On SQLite it has a read-only connection of its
    own, so the read does not queue behind other turns' transactions (WAL lets it read while
    they write); on PostgreSQL a small asyncpg pool of its own. An in-memory SQLite, which a
    second connection could not see, and any other driver read through the engine.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        url = engine.url
        self._path: str | None = None
        self._asyncpg: dict[str, Any] | None = None
        if is_sqlite(str(url)) and url.database not in (None, "", ":memory:"):
            self._path = url.database
        elif url.get_driver_name() == "asyncpg":
            _, options = engine.dialect.create_connect_args(url)
            # SQLAlchemy's own options, which asyncpg would refuse.
            for key in ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn"):
                options.pop(key, None)
            if "command_timeout" in options:
                options["command_timeout"] = float(options["command_timeout"])
            self._asyncpg = options
        self._connection: aiosqlite.Connection | None = None
        self._waiting: list[_Read] = []
        self._trips: asyncio.Task[None] | None = None
        self._pool: Any = None  # asyncpg.Pool, imported only where PostgreSQL is used
        self._opening = asyncio.Lock()
        self._compiled = Cache(engine.dialect)

    async def rows(self, statement: Select[Any], values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        if self._path is not None:
            return await self._sqlite_rows(self._compiled.get(statement), values)
        if self._asyncpg is not None:
            return await self._asyncpg_rows(self._compiled.get(statement), values)
        async with self._engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(statement, dict(values))]

    async def _sqlite_rows(self, prepared: Compiled, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        parameters = prepared.parameters(values)
        answer: asyncio.Future[list[tuple[Any, ...]]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Read(prepared.sql, parameters, answer))
        if self._trips is None or self._trips.done():
            self._trips = asyncio.create_task(self._read_waiting())
        try:
            raw = await answer
        except sqlite3.Error as error:
            raise _as_engine_error(prepared, parameters, error, sqlite3.Error) from error
        return [prepared.row(r) for r in raw]

    async def _read_waiting(self) -> None:
        """Run the reads waiting, all of them in one trip to the connection's thread, until none
        wait. With twenty turns at once a trip each queued them behind one another, each trip
        waiting for the thread and then for the GIL: 12 ms at the median and 42 ms at the 99th
        percentile, for a read of a tenth of a millisecond."""
        while self._waiting:
            try:
                connection = await self._sqlite()
            except BaseException as error:  # the register is out of reach: they are told so
                _fail((read.answer for read in self._waiting), error)
                self._waiting = []
                if not isinstance(error, Exception):
                    raise
                return
            reads, self._waiting = self._waiting, []

            def run(
                reads: list[_Read] = reads, connection: aiosqlite.Connection = connection
            ) -> list[list[tuple[Any, ...]] | sqlite3.Error]:
                answers: list[list[tuple[Any, ...]] | sqlite3.Error] = []
                for read in reads:
                    try:
                        cursor = connection._conn.execute(read.sql, read.parameters)
                        try:
                            answers.append(cursor.fetchall())
                        finally:
                            cursor.close()
                    except sqlite3.Error as error:
                        answers.append(error)
                return answers

            try:
                answers = await connection._execute(run)
            except BaseException as error:  # the connection itself failed, or the bot is stopping
                _fail((read.answer for read in reads), error)
                await self._drop(connection)
                if not isinstance(error, Exception):
                    raise
                continue
            broken = False
            for read, got in zip(reads, answers, strict=True):
                if read.answer.done():  # its turn was cancelled meanwhile
                    continue
                if isinstance(got, sqlite3.Error):
                    broken = True
                    read.answer.set_exception(got)
                else:
                    read.answer.set_result(got)
            if broken:
                # A connection that failed a read is not kept: the reads after it open another.
                await self._drop(connection)

    async def _drop(self, connection: aiosqlite.Connection) -> None:
        if self._connection is connection:
            self._connection = None
        with contextlib.suppress(Exception):
            await connection.close()

    async def _asyncpg_rows(self, prepared: Compiled, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        import asyncpg

        parameters = prepared.parameters(values)
        try:
            pool = await self._postgres()
            raw = await pool.fetch(prepared.sql, *parameters)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            # The pool replaces a connection that broke; the turn is told the register is out
            # of reach, as a read through the engine would be.
            raise _as_engine_error(prepared, parameters, error, Exception) from error
        return [prepared.row(tuple(r)) for r in raw]

    async def _sqlite(self) -> aiosqlite.Connection:
        if self._connection is not None:
            return self._connection
        async with self._opening:  # turns arriving together open one connection between them
            if self._connection is None:
                connection = await aiosqlite.connect(self._path, timeout=30)
                try:
                    # It only reads: a bug that wrote through it would fail, not half-write.
                    await connection.execute("PRAGMA query_only=ON")
                    await connection.execute("PRAGMA busy_timeout=30000")
                except BaseException:
                    await connection.close()
                    raise
                self._connection = connection
            return self._connection

    async def _postgres(self) -> Any:
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._pool is None:
                import asyncpg

                self._pool = await asyncpg.create_pool(
                    min_size=1, max_size=POSTGRES_READ_CONNECTIONS, **(self._asyncpg or {})
                )
            return self._pool

    async def close(self) -> None:
        if self._trips is not None and not self._trips.done():
            self._trips.cancel()
            with contextlib.suppress(BaseException):
                await self._trips
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


@dataclass(frozen=True)
class _Read:
    """A read waiting for the Reader's SQLite connection, and where its rows go."""

    sql: str
    parameters: Any
    answer: "asyncio.Future[list[tuple[Any, ...]]]"


def _fail(answers: Iterable["asyncio.Future[Any]"], error: BaseException) -> None:
    """Tell everyone still waiting that their work failed, or that the bot is stopping."""
    for answer in answers:
        if answer.done():
            continue
        if isinstance(error, Exception):
            answer.set_exception(error)
        else:
            answer.cancel()


# The turns in flight share these for their first read; each answers in well under a millisecond.
POSTGRES_READ_CONNECTIONS = 4


def _as_engine_error(prepared: Compiled, parameters: list[Any], error: Exception, base: type) -> DBAPIError:
    """The driver's error as the engine raises one, so callers handle one kind of database error."""
    return engine_error(prepared.sql, parameters, error, base)
