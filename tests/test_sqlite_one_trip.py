"""SQLite's cursor executes, fetches and closes in one trip: results are as the stock adapter's."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage.compiled import SENT_LATER
from storage.db import create_engine
from tests.support.trips import trips_of


async def test_rows_counts_returning_streams_and_errors_are_as_before(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one-trip.db'}")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER UNIQUE)"))
            inserted = await connection.execute(text("INSERT INTO t (x) VALUES (1), (2)"))
            assert inserted.rowcount == 2
            many = await connection.execute(text("INSERT INTO t (x) VALUES (:x)"), [{"x": 3}, {"x": 4}])
            assert many.rowcount == 2
            updated = await connection.execute(text("UPDATE t SET x = x + 10 WHERE x > 2 RETURNING x"))
            assert sorted(updated.scalars()) == [13, 14]
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one() == 4
            await connection.commit()
        async with engine.connect() as connection:
            streamed = await connection.stream(text("SELECT x FROM t ORDER BY x"))
            assert [row.x async for row in streamed] == [1, 2, 13, 14]
            with pytest.raises(IntegrityError):
                await connection.execute(text("INSERT INTO t (x) VALUES (1)"))
    finally:
        await engine.dispose()


async def test_a_connection_given_back_mid_write_is_rolled_back_and_reads_alone_need_no_trip(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'give-back.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
        async with engine.connect() as connection:
            await connection.execute(text("INSERT INTO t (x) VALUES (1)"))
            # given back without a commit: the pool must undo it
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
            trips = await trips_of(connection)
        # after reads alone, giving the connection back costs no trip to aiosqlite's thread
        assert trips == []
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t (x) VALUES (2)"))
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT x FROM t"))).scalars().all() == [2]
    finally:
        await engine.dispose()


async def test_writes_sent_later_go_with_the_next_statement_or_the_commit_in_order(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'later.db'}")
    later = text("INSERT INTO t (x) VALUES (:x)").execution_options(**SENT_LATER)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER UNIQUE)"))
        async with engine.connect() as connection:
            trips = await trips_of(connection)
            await connection.execute(later, {"x": 1})
            await connection.execute(later, [{"x": 2}, {"x": 3}])
            assert trips == []  # nothing has gone yet
            # a read in the same transaction sees them: they go first, in the same trip
            seen = await connection.execute(text("SELECT x FROM t ORDER BY id"))
            assert seen.scalars().all() == [1, 2, 3]
            assert len(trips) == 1
            await connection.execute(later, {"x": 4})
            await connection.commit()
            assert len(trips) == 2  # the last write went with the commit
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT x FROM t ORDER BY id"))).scalars().all() == [
                1,
                2,
                3,
                4,
            ]
    finally:
        await engine.dispose()


async def test_a_write_sent_later_that_fails_fails_the_commit_and_nothing_of_it_stays(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'later-fails.db'}")
    later = text("INSERT INTO t (x) VALUES (:x)").execution_options(**SENT_LATER)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER UNIQUE)"))
            await connection.execute(text("INSERT INTO t (x) VALUES (1)"))
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t (x) VALUES (2)"))
                await connection.execute(later, {"x": 1})  # a duplicate, found at the commit
        # a rolled-back transaction's waiting writes are dropped, not sent with the next one
        async with engine.connect() as connection:
            await connection.execute(later, {"x": 5})
            await connection.rollback()
            await connection.execute(text("INSERT INTO t (x) VALUES (6)"))
            await connection.commit()
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT x FROM t ORDER BY id"))).scalars().all() == [1, 6]
        # and the writer's turn was given back each time: another transaction can write
        async with engine.begin() as connection:
            await connection.execute(later, {"x": 7})
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT max(x) FROM t"))).scalar_one() == 7
    finally:
        await engine.dispose()


async def test_without_a_transaction_a_write_sent_later_goes_at_once(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'autocommit.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
        async with engine.connect() as connection:
            auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text("INSERT INTO t (x) VALUES (1)").execution_options(**SENT_LATER))
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    finally:
        await engine.dispose()
