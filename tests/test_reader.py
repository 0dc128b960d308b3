"""The turn's first read gives what SQLAlchemy gives, on its own connection, and never writes."""

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, column, insert, select, table, text
from sqlalchemy.exc import OperationalError, StatementError

from storage import people
from storage.db import Reader, create_engine
from storage.models import ConversationRef, Person, RoleAssignment, ServiceArea
from tests.support.trips import count_trips

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def _seed(engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(ServiceArea).values(id=1, key="housing", name="Housing"))
        await conn.execute(
            insert(Person).values(
                id=1,
                teams_user_id="29:amy",
                aad_object_id="aad-amy",
                email="amy@council.example",
                display_name="Amy Manager",
                created_at=NOW,
                updated_at=NOW,
            )
        )
        await conn.execute(insert(RoleAssignment).values(person_id=1, role="manager", service_area_id=1))
        await conn.execute(
            insert(ConversationRef).values(
                conversation_id="a:amy",
                kind="personal",
                service_url="https://smba.example/",
                bot_id="28:bot",
                person_id=1,
                user_id="29:amy",
                updated_at=NOW,
            )
        )


async def test_the_sender_read_is_what_sqlalchemy_reads(engine):
    await _seed(engine)
    reader = Reader(engine)
    try:
        ask = {"teams_user_id": "29:amy", "aad_object_id": "aad-amy", "conversation_id": "a:amy"}
        fast = await reader.rows(people._KNOWN, ask)
        async with engine.connect() as conn:
            stock = [tuple(r) for r in await conn.execute(people._KNOWN, ask)]
        assert fast == stock
        assert fast and fast[0][:5] == (1, "29:amy", "aad-amy", "amy@council.example", "Amy Manager")
        # the exists() column comes back as the same truth value SQLAlchemy gives
        assert [bool(r[16]) for r in fast] == [bool(r[16]) for r in stock]
        known = await people.known_sender(
            reader, teams_user_id="29:amy", aad_object_id=None, conversation_id="a:amy"
        )
        assert [k.person_id for k in known] == [1]
        assert known[0].roles.managed_areas == {"housing"}
        assert known[0].reference is not None and known[0].reference_is_latest
        # someone the register does not know
        assert (
            await reader.rows(people._KNOWN, {**ask, "teams_user_id": "29:nobody", "aad_object_id": None})
            == []
        )
        with pytest.raises((KeyError, StatementError)):  # a forgotten value is an error, not a NULL
            await reader.rows(people._KNOWN, {"conversation_id": "a:amy"})
    finally:
        await reader.close()


async def test_the_read_sees_each_commit_and_is_not_held_up_by_an_open_write(engine):
    await _seed(engine)
    reader = Reader(engine)
    statement = select(Person.display_name).where(Person.id == 1)
    try:
        async with engine.connect() as writer:
            await writer.execute(Person.__table__.update().values(display_name="Amy M"))
            # uncommitted: the reader still answers, with what was committed
            assert await reader.rows(statement, {}) == [("Amy Manager",)]
            await writer.commit()
        assert await reader.rows(statement, {}) == [("Amy M",)]
    finally:
        await reader.close()


async def test_on_sqlite_the_reader_cannot_write(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ro.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER)"))
    reader = Reader(engine)
    try:
        connection = await reader._sqlite()
        with pytest.raises(Exception, match=r"readonly|read-only|query_only"):
            await connection.execute("INSERT INTO t (x) VALUES (1)")
    finally:
        await reader.close()
        await engine.dispose()


async def test_a_broken_sqlite_read_is_the_engines_kind_of_error_and_the_next_read_reconnects(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'gone.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x TEXT)"))
        await conn.execute(text("INSERT INTO t (x) VALUES ('Jordan Blake')"))
    reader = Reader(engine)
    names = select(table("t", column("x")).c.x).where(column("x") != "")
    try:
        assert await reader.rows(names, {}) == [("Jordan Blake",)]
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE t RENAME TO u"))
        with pytest.raises(OperationalError) as error:
            await reader.rows(names, {})
        assert "parameters hidden" in str(error.value)  # ids and names stay out of the logs
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE u RENAME TO t"))
        assert await reader.rows(names, {}) == [("Jordan Blake",)]
    finally:
        await reader.close()
        await engine.dispose()


@contextlib.asynccontextmanager
async def _names(tmp_path, rows: int):
    """A Reader over a table of `rows` names, and the statement reading one by its id."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'names.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
        for n in range(rows):
            await conn.execute(
                text("INSERT INTO t (id, name) VALUES (:id, :name)"), {"id": n, "name": f"N{n}"}
            )
    reader = Reader(engine)
    t = table("t", column("id"), column("name"))
    try:
        yield reader, select(t.c.name).where(t.c.id == bindparam("id"))
    finally:
        await reader.close()
        await engine.dispose()


async def test_reads_arriving_together_each_get_their_own_rows_in_a_few_trips(tmp_path):
    async with _names(tmp_path, 40) as (reader, by_id):
        trips = count_trips(await reader._sqlite())
        # Twenty turns at once, as the load bench sends them: each asks for someone else.
        answers = await asyncio.gather(*(reader.rows(by_id, {"id": n}) for n in range(20)))
        assert answers == [[(f"N{n}",)] for n in range(20)]
        assert 1 <= len(trips) < 20  # they waited together, not a trip each


async def test_a_failing_read_fails_alone_and_the_reads_beside_it_are_answered(tmp_path):
    gone = table("gone", column("x"))
    missing = select(gone.c.x).where(gone.c.x == bindparam("x"))
    async with _names(tmp_path, 5) as (reader, by_id):
        first = await reader._sqlite()
        asks = [
            reader.rows(by_id, {"id": 1}),
            reader.rows(missing, {"x": "Jordan Blake"}),
            reader.rows(by_id, {"id": 2}),
        ]
        answers = await asyncio.gather(*asks, return_exceptions=True)
        assert answers[0] == [("N1",)] and answers[2] == [("N2",)]
        assert isinstance(answers[1], OperationalError) and "parameters hidden" in str(answers[1])
        # The connection that failed is not kept; the next read has a new one and is answered.
        assert await reader.rows(by_id, {"id": 3}) == [("N3",)]
        assert await reader._sqlite() is not first


async def test_a_turn_that_stops_waiting_leaves_the_other_reads_answered(tmp_path):
    async with _names(tmp_path, 5) as (reader, by_id):
        await reader._sqlite()
        abandoned = asyncio.ensure_future(reader.rows(by_id, {"id": 1}))
        kept = asyncio.ensure_future(reader.rows(by_id, {"id": 2}))
        await asyncio.sleep(0)
        abandoned.cancel()  # Teams gave up on that turn
        assert await kept == [("N2",)]
        assert abandoned.cancelled()
        assert await reader.rows(by_id, {"id": 4}) == [("N4",)]


async def test_a_register_out_of_reach_is_the_engines_kind_of_error_for_every_read_waiting(tmp_path):
    # A folder where the database should be: SQLite cannot open it.
    (tmp_path / "register.db").mkdir()
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'register.db'}")
    reader = Reader(engine)
    t = table("t", column("id"))
    by_id = select(t.c.id).where(t.c.id == bindparam("id"))
    try:
        answers = await asyncio.gather(
            *(reader.rows(by_id, {"id": n}) for n in range(3)), return_exceptions=True
        )
        assert all(isinstance(a, OperationalError) for a in answers), answers
    finally:
        await reader.close()
        await engine.dispose()
