"""SQLite's connections read side by side and take turns to write, without 'database is locked'."""

import asyncio
import contextlib
import fcntl
import os
import time

import pytest
from sqlalchemy import text

from storage.db import SQLITE_CONNECTIONS, commit_together, create_engine


@pytest.fixture
async def engine(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine
    await engine.dispose()


async def _count(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()


async def test_a_second_writer_waits_its_turn_while_readers_carry_on(engine):
    events: list[str] = []
    first_wrote = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (x) VALUES (1)"))
            first_wrote.set()
            await release_first.wait()
            events.append("first commits")

    async def second() -> None:
        await first_wrote.wait()
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (x) VALUES (2)"))
            events.append("second wrote")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_wrote.wait()
    await asyncio.sleep(0.2)
    # the first holds the writer's turn: a reader still reads what is committed, the second waits
    assert await _count(engine) == 0
    assert events == []
    release_first.set()
    await asyncio.gather(*tasks)
    assert events == ["first commits", "second wrote"]
    assert await _count(engine) == 2


async def test_a_connection_given_back_without_a_commit_gives_up_its_turn(engine):
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO t (x) VALUES (1)"))
        # no commit: the pool rolls it back
    async with asyncio.timeout(5):  # a turn never given back would hang every later write here
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (x) VALUES (2)"))
    assert await _count(engine) == 1


async def test_a_failed_write_gives_up_its_turn(engine):
    async with engine.begin() as conn:
        await conn.execute(text("CREATE UNIQUE INDEX t_x ON t (x)"))
        await conn.execute(text("INSERT INTO t (x) VALUES (1)"))
    with pytest.raises(Exception, match="UNIQUE"):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (x) VALUES (1)"))
    async with asyncio.timeout(5):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (x) VALUES (2)"))
    assert await _count(engine) == 2


async def test_a_cancelled_writer_gives_up_its_turn(engine):
    wrote = asyncio.Event()

    async def stuck() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (x) VALUES (1)"))
            wrote.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(stuck())
    await wrote.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(5):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (x) VALUES (2)"))
    assert await _count(engine) == 1


async def test_many_writers_at_once_all_write(engine):
    async def write(n: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT count(*) FROM t"))
            await conn.execute(text("INSERT INTO t (x) VALUES (:x)"), {"x": n})
            await asyncio.sleep(0)  # hold the turn across an await, as a dialog does
            await conn.execute(text("UPDATE t SET x = x WHERE x = :x"), {"x": n})

    await asyncio.gather(*(write(n) for n in range(SQLITE_CONNECTIONS * 10)))
    assert await _count(engine) == SQLITE_CONNECTIONS * 10


# --- writers in other processes -----------------------------------------------------------------
# Each engine opens the register's lock file itself, as each process does: two engines on one
# file take turns as two workers would.


@contextlib.contextmanager
def _lock_file_held(path):
    """Another process's writer holding the register's lock file."""
    fd = os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield lambda: fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _lock_file_free(path) -> bool:
    fd = os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # which lets go again
    return True


async def _insert(engine, x: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (x) VALUES (:x)"), {"x": x})


async def _insert_together(engine, x: int) -> None:
    async with engine.connect() as conn:
        adapter = (await conn.get_raw_connection()).dbapi_connection
        await commit_together(adapter, lambda raw: raw.execute("INSERT INTO t (x) VALUES (?)", (x,)))


@pytest.mark.parametrize(
    "write", [_insert, _insert_together], ids=["a transaction", "transactions committed together"]
)
async def test_a_writer_waits_while_another_process_holds_the_lock_file(engine, tmp_path, write):
    with _lock_file_held(tmp_path / "writers.db") as release:
        task = asyncio.create_task(write(engine, 1))
        await asyncio.sleep(0.3)
        assert not task.done()  # SQLite itself would have let it write: nothing else is writing
        assert await _count(engine) == 0
        release()
        async with asyncio.timeout(5):
            await task
    assert await _count(engine) == 1
    assert _lock_file_free(tmp_path / "writers.db")  # and it let go after its commit


async def test_two_processes_writers_take_turns_on_one_register(engine, tmp_path):
    other = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}")
    try:
        wrote, release = asyncio.Event(), asyncio.Event()

        async def holds() -> None:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (x) VALUES (1)"))
                wrote.set()
                await release.wait()

        first = asyncio.create_task(holds())
        await wrote.wait()
        seconds = [asyncio.create_task(w(other, n)) for n, w in ((2, _insert), (3, _insert_together))]
        await asyncio.sleep(0.3)
        assert not any(task.done() for task in seconds)
        release.set()
        async with asyncio.timeout(5):
            await asyncio.gather(first, *seconds)
        assert await _count(engine) == 3
    finally:
        await other.dispose()


async def test_a_writer_cancelled_while_waiting_for_the_lock_file_does_not_keep_it(engine, tmp_path):
    with _lock_file_held(tmp_path / "writers.db") as release:
        task = asyncio.create_task(_insert(engine, 1))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release()
    # The abandoned wait gets the lock in its thread and lets go of it straight away.
    for _ in range(100):
        if _lock_file_free(tmp_path / "writers.db"):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the cancelled writer kept the register's lock file")
    async with asyncio.timeout(5):
        await _insert(engine, 2)  # and this process's own turn came back too
    assert await _count(engine) == 1


async def test_a_wait_abandoned_does_not_let_go_of_the_lock_a_later_trip_holds(engine, tmp_path):
    register = tmp_path / "writers.db"
    held_in_trip: list[bool] = []

    def write_and_look(raw) -> None:
        raw.execute("INSERT INTO t (x) VALUES (2)")
        time.sleep(0.2)  # long enough for the abandoned wait to have come and gone
        held_in_trip.append(not _lock_file_free(register))

    with _lock_file_held(register) as release:
        abandoned = asyncio.create_task(_insert(engine, 1))
        await asyncio.sleep(0.2)
        abandoned.cancel()
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        async with engine.connect() as conn:
            adapter = (await conn.get_raw_connection()).dbapi_connection
            trip = asyncio.create_task(commit_together(adapter, write_and_look))
            await asyncio.sleep(0.2)  # the trip waits for the lock in its thread
            release()
            async with asyncio.timeout(5):
                await trip
    assert held_in_trip == [True]
    assert await _count(engine) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another owner")
async def test_a_lock_file_made_by_root_goes_to_the_registers_owner(tmp_path):
    """A task run with sudo must not leave a lock file the bot's own user cannot open."""
    register = tmp_path / "owned.db"
    register.touch()
    os.chown(register, 65534, 65534)
    engine = create_engine(f"sqlite+aiosqlite:///{register}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t (x) VALUES (1)"))
    finally:
        await engine.dispose()
    lock = os.stat(f"{register}-writer")
    assert (lock.st_uid, lock.st_gid) == (65534, 65534)
