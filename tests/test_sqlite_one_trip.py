"""SQLite's cursor executes, fetches and closes in one trip: results are as the stock adapter's."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage.db import create_engine


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
