"""Statements run straight on the session's driver connection behave as SQLAlchemy's execution:
the same rows and conversions, in the session's transaction, with the same errors."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage import direct
from storage.models import Customer, Person, ServiceArea

NOW = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=UTC)
_ADD_CUSTOMER = insert(Customer.__table__).returning(Customer.__table__.c.id)
_CUSTOMER = select(*Customer.__table__.c).where(Customer.id == bindparam("id"))
_RENAME = update(Customer.__table__).where(Customer.id == bindparam("c_id")).values(name=bindparam("c_name"))
_ADD_AREA = insert(ServiceArea.__table__)


def _customer(name: str, **more) -> dict:
    return {
        "name": name,
        "customer_reference": None,
        "email": None,
        "phone": None,
        "address": None,
        "postcode": None,
        "support_needs": None,
        "advocate": None,
        "created_at": NOW,
        "anonymised_at": None,
        **more,
    }


async def test_rows_are_what_sqlalchemy_gives_and_writes_commit_with_the_session(sessions):
    async with sessions() as session:
        jordan = _customer("Jordan Blake", postcode="TD6 0SA")
        [(first_id,)] = await direct.rows(session, _ADD_CUSTOMER, jordan)
        [(second_id,)] = await direct.rows(session, _ADD_CUSTOMER, _customer("Sam Reid"))
        assert second_id == first_id + 1
        # Read back in the same transaction, before the commit.
        (row,) = await direct.rows(session, _CUSTOMER, {"id": first_id})
        fields = dict(zip(Customer.__table__.c.keys(), row, strict=True))
        assert fields["name"] == "Jordan Blake" and fields["created_at"] == NOW
        assert await direct.write(session, _RENAME, {"c_id": second_id, "c_name": "Sam R"}) == 1
        assert await direct.write(session, _RENAME, {"c_id": 999, "c_name": "Nobody"}) == 0
        await session.commit()
    async with sessions() as session:
        through_sqlalchemy = [tuple(r) for r in await session.execute(_CUSTOMER, {"id": first_id})]
        assert await direct.rows(session, _CUSTOMER, {"id": first_id}) == through_sqlalchemy
        assert through_sqlalchemy[0][Customer.__table__.c.keys().index("created_at")] == NOW
        assert (await session.get(Customer, second_id)).name == "Sam R"
        assert await direct.first(session, _CUSTOMER, {"id": 999}) is None


async def test_a_rolled_back_session_keeps_nothing_written_directly(sessions):
    async with sessions() as session:
        await direct.write(session, _ADD_AREA, [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}])
        await session.rollback()
    async with sessions() as session:
        await direct.write(session, _ADD_AREA, {"key": "c", "name": "C"})
        # Closed without a commit.
    async with sessions() as session:
        assert (await session.scalars(select(ServiceArea.key))).all() == []


async def _stored_area(sessions, name: str) -> None:
    async with sessions() as session:
        await direct.write(session, _ADD_AREA, {"key": name.lower(), "name": name})
        await session.commit()


async def test_a_broken_constraint_is_sqlalchemys_integrity_error_without_its_values(sessions):
    await _stored_area(sessions, "Housing")
    async with sessions() as session:
        with pytest.raises(IntegrityError) as error:
            await direct.write(session, _ADD_AREA, {"key": "housing", "name": "Housing Two"})
        assert "Housing Two" not in str(error.value)  # no names in the logs
        assert "parameters hidden" in str(error.value)
        await session.rollback()
        # The session is usable again, and what was there is still there.
        assert (await session.scalars(select(ServiceArea.name))).all() == ["Housing"]


async def test_the_session_is_one_transaction_whether_statements_go_directly_or_not(sessions):
    async with sessions() as session:
        session.add(Person(email="amy@council.example", created_at=NOW, updated_at=NOW))
        await direct.flush(session)  # the ORM's pending row is written before the statement needs it
        people = await direct.rows(session, select(Person.email))
        assert people == [("amy@council.example",)]
        await session.commit()
        # After a commit the next statement begins a new transaction on a connection of its own.
        assert await direct.rows(session, select(Person.email)) == people


def test_a_statement_that_needs_sqlalchemys_execution_is_refused_when_compiled():
    from sqlalchemy.dialects import sqlite

    from storage.compiled import Compiled

    with pytest.raises(ValueError, match="expanding"):
        Compiled(select(Person.id).where(Person.id.in_([1, 2])), sqlite.dialect())
    # `Person.created_at` has no Python default, but `Customer`'s booleans and others do: a write
    # that leaves such a column out must say so, not store NULL.
    from storage.models import Incident

    with pytest.raises(ValueError, match="Python default"):
        Compiled(insert(Incident.__table__), sqlite.dialect(), ("reference", "year"))


async def test_on_sqlite_a_write_sent_later_waits_for_the_next_statement_as_through_sqlalchemy(tmp_path):
    from storage.compiled import SENT_LATER
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade
    from tests.support.trips import trips_of

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'later.db'}")
    later = _ADD_AREA.execution_options(**SENT_LATER)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:
            await direct.rows(session, select(ServiceArea.key))  # the transaction's connection
            trips = await trips_of(session)
            await direct.write(session, later, {"key": "a", "name": "A"})
            await direct.write(session, later, [{"key": "b", "name": "B"}, {"key": "c", "name": "C"}])
            assert trips == []  # nothing has gone yet
            assert await direct.rows(session, select(ServiceArea.key).order_by(ServiceArea.id)) == [
                ("a",),
                ("b",),
                ("c",),
            ]
            assert len(trips) == 1  # they went first, with the read
            await direct.write(session, later, {"key": "d", "name": "D"})
            await session.commit()
            assert len(trips) == 2  # the last went with the commit
        async with session_factory(engine)() as session:
            assert (await session.scalars(select(ServiceArea.key))).all() == ["a", "b", "c", "d"]
    finally:
        await engine.dispose()


def _areas_and_a_customer(names: list[str]) -> direct.Plan[tuple[int, list[str]]]:
    """A plan whose later steps need the earlier steps' rows."""
    yield _ADD_AREA, [{"key": n.lower(), "name": n} for n in names]
    found = yield select(ServiceArea.name).order_by(ServiceArea.name), {}
    ((customer_id,),) = yield _ADD_CUSTOMER, _customer(f"Customer of {len(found)} areas")
    return customer_id, [name for (name,) in found]


async def test_a_plan_feeds_each_step_the_rows_before_and_commits_with_the_session(sessions):
    async with sessions() as session:
        customer_id, names = await direct.run_plan(session, _areas_and_a_customer(["Roads", "Housing"]))
        assert names == ["Housing", "Roads"]
        await session.commit()
    async with sessions() as session:
        assert (await session.get(Customer, customer_id)).name == "Customer of 2 areas"
    async with sessions() as session:
        await direct.run_plan(session, _areas_and_a_customer(["Parks"]), commit=True)
    async with sessions() as session:
        assert (await session.scalars(select(ServiceArea.key).order_by(ServiceArea.key))).all() == [
            "housing",
            "parks",
            "roads",
        ]


async def test_a_plan_that_fails_part_way_keeps_nothing_and_raises_sqlalchemys_error(sessions):
    await _stored_area(sessions, "Roads")
    async with sessions() as session:
        # "Housing" goes in, then "Roads" breaks the unique key: the plan's other writes go too.
        with pytest.raises(IntegrityError) as error:
            await direct.run_plan(session, _areas_and_a_customer(["Housing", "Roads"]), commit=True)
        assert "parameters hidden" in str(error.value)
    async with sessions() as session:
        assert (await session.scalars(select(ServiceArea.key))).all() == ["roads"]
        assert (await session.scalars(select(Customer.id))).all() == []


async def test_on_sqlite_a_plan_and_its_commit_are_one_trip_to_the_thread(tmp_path):
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade
    from tests.support.trips import trips_of

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}")
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:
            await direct.rows(session, select(ServiceArea.key))  # the transaction's connection
            trips = await trips_of(session)
            await direct.run_plan(session, _areas_and_a_customer(["Roads", "Housing"]), commit=True)
            assert len(trips) == 1
        async with session_factory(engine)() as session:
            assert (await session.scalars(select(Customer.name))).all() == ["Customer of 2 areas"]
    finally:
        await engine.dispose()
