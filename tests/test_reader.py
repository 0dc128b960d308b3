"""The turn's first read gives what SQLAlchemy gives, on its own connection, and never writes."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import StatementError

from storage import people
from storage.db import Reader
from storage.models import ConversationRef, Person, RoleAssignment, ServiceArea

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
    from sqlalchemy import text

    from storage.db import create_engine

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
    from sqlalchemy import column, table, text
    from sqlalchemy.exc import OperationalError

    from storage.db import create_engine

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
