"""SQLite's connections read side by side and take turns to write, without 'database is locked':
transactions that may write begin immediately (SQLAlchemy's recipe), and readers read beside them."""

import asyncio
import sys

import pytest
from sqlalchemy import text

from storage.db import create_engine, reads_of, session_factory


@pytest.fixture
async def engine(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine
    await engine.dispose()


async def _count(engine) -> int:
    reads = reads_of(engine)
    try:
        async with session_factory(reads)() as session:
            return (await session.execute(text("SELECT count(*) FROM t"))).scalar_one()
    finally:
        await reads.dispose()


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

    await asyncio.gather(*(write(n) for n in range(40)))
    assert await _count(engine) == 40


async def test_a_task_on_the_command_line_writes_beside_the_bot(engine, tmp_path):
    """Another process (`engagement-bot roles import` while the bot serves) waits for the
    writer's turn rather than failing with 'database is locked'."""
    script = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], timeout=30)\n"
        "db.execute('INSERT INTO t (x) VALUES (99)')\n"
        "db.commit()\n"
    )
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (x) VALUES (1)"))
        register = str(tmp_path / "writers.db")
        other = await asyncio.create_subprocess_exec(sys.executable, "-c", script, register)
        await asyncio.sleep(0.3)  # the other process waits while this transaction is open
        assert other.returncode is None
    async with asyncio.timeout(20):
        assert await other.wait() == 0
    assert await _count(engine) == 2
