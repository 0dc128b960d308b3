"""On SQLite, transactions waiting for the writer's turn are committed together: one trip and one
commit for them all, each keeping its own outcome, none answered before its commit."""

import asyncio
import fcntl
import os
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from storage import direct
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import ServiceArea
from tests.support.trips import trips_of

_ADD_AREA = insert(ServiceArea.__table__)
_COUNT = select(func.count()).select_from(ServiceArea.__table__)


def _next_area(key: str | None = None, *, then_fail: bool = False) -> direct.Plan[str]:
    """Name the next area by how many there are, as a report takes the year's next number."""
    ((count,),) = yield _COUNT, {}
    name = f"Area {count + 1}"
    yield _ADD_AREA, [{"key": key or name.lower().replace(" ", "-"), "name": name}]
    if then_fail:
        raise RuntimeError("the plan stopped after its write")
    return name


@pytest.fixture
async def sessions(tmp_path) -> AsyncIterator:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'together.db'}")
    await upgrade(engine)
    yield session_factory(engine)
    await engine.dispose()


async def _stored(sessions) -> list[tuple[str, str]]:
    async with sessions() as session:
        return [
            tuple(r) for r in await session.execute(select(ServiceArea.key, ServiceArea.name).order_by("id"))
        ]


class _TurnHeld:
    """Another transaction holding the writer's turn until `release`, so the plans started
    meanwhile all wait for it."""

    def __init__(self, sessions) -> None:
        self._sessions = sessions
        self._wrote = asyncio.Event()
        self._release = asyncio.Event()
        self.task = asyncio.create_task(self._hold())

    async def _hold(self) -> None:
        async with self._sessions() as session:
            await session.execute(text("INSERT INTO service_areas (key, name) VALUES ('held', 'Held')"))
            self._wrote.set()
            await self._release.wait()
            await session.commit()

    async def __aenter__(self) -> "_TurnHeld":
        await self._wrote.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        await self.task


async def _run(
    sessions, plan: direct.Plan[str], ready: asyncio.Event | None = None, trips: list | None = None
) -> str:
    async with sessions() as session:
        await direct.rows(session, _COUNT)  # the session's connection, read before it writes
        if trips is not None:
            trips.append(await trips_of(session))
        if ready is not None:
            ready.set()
        return await direct.run_plan(session, plan, commit=True)


async def _waiting(sessions, plans: list[direct.Plan[str]]) -> list[asyncio.Task[str]]:
    tasks = []
    for plan in plans:
        ready = asyncio.Event()
        tasks.append(asyncio.create_task(_run(sessions, plan, ready)))
        await ready.wait()
    await asyncio.sleep(0.05)  # each has asked for the writer's turn
    return tasks


async def test_transactions_waiting_meanwhile_commit_together_in_order_each_seeing_the_one_before(sessions):
    async with _TurnHeld(sessions):
        tasks = await _waiting(sessions, [_next_area(), _next_area(), _next_area()])
        assert not any(t.done() for t in tasks)  # none is answered before its commit
    assert await asyncio.gather(*tasks) == ["Area 2", "Area 3", "Area 4"]
    assert await _stored(sessions) == [
        ("held", "Held"),
        ("area-2", "Area 2"),
        ("area-3", "Area 3"),
        ("area-4", "Area 4"),
    ]


async def test_the_transactions_waiting_take_one_trip_between_them(sessions):
    counted: list[list] = []
    async with _TurnHeld(sessions):
        tasks = []
        for _ in range(3):
            ready = asyncio.Event()
            tasks.append(asyncio.create_task(_run(sessions, _next_area(), ready, counted)))
            await ready.wait()
        await asyncio.sleep(0.05)
    await asyncio.gather(*tasks)
    # Run and committed in one trip on the first one's connection; the others' sessions end
    # with no trip at all.
    assert [len(trips) for trips in counted] == [1, 0, 0]


async def test_one_that_breaks_a_constraint_is_rolled_back_alone_and_told(sessions):
    async with _TurnHeld(sessions):
        tasks = await _waiting(sessions, [_next_area(), _next_area(key="held"), _next_area()])
    first, broken, third = await asyncio.gather(*tasks, return_exceptions=True)
    assert (first, third) == ("Area 2", "Area 3")  # the third saw no trace of the broken one
    assert isinstance(broken, IntegrityError)
    assert "parameters hidden" in str(broken)
    assert [key for key, _ in await _stored(sessions)] == ["held", "area-2", "area-3"]


async def test_one_that_fails_after_writing_keeps_nothing_and_the_others_commit(sessions):
    async with _TurnHeld(sessions):
        tasks = await _waiting(sessions, [_next_area(then_fail=True), _next_area()])
    failed, second = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(failed, RuntimeError)
    assert second == "Area 2"
    assert [key for key, _ in await _stored(sessions)] == ["held", "area-2"]


async def test_when_their_commit_fails_every_one_fails_and_nothing_is_kept(sessions):
    async with _TurnHeld(sessions):
        tasks = await _waiting(sessions, [_next_area(), _orphan(), _next_area()])
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, IntegrityError) for r in results), results
    assert [key for key, _ in await _stored(sessions)] == ["held"]


def _orphan() -> direct.Plan[str]:
    """A plan whose write breaks a foreign key that SQLite, told to defer it, checks at commit."""
    yield text("PRAGMA defer_foreign_keys=ON"), {}
    yield (
        text(
            "INSERT INTO role_assignments (person_id, role, service_area_id) VALUES (999999, 'manager', NULL)"
        ),
        {},
    )
    return "orphan"


async def test_a_caller_that_stops_waiting_is_dropped_and_the_others_commit(sessions):
    async with _TurnHeld(sessions):
        tasks = await _waiting(sessions, [_next_area(), _next_area(), _next_area()])
        tasks[1].cancel()
        await asyncio.sleep(0)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    assert (results[0], results[2]) == ("Area 2", "Area 3")
    assert [key for key, _ in await _stored(sessions)] == ["held", "area-2", "area-3"]


def _rename_every_area() -> direct.Plan[str]:
    """A transaction that changes every page of a large table: its savepoint's journal holds a
    copy of each page before the change, far more than SQLite keeps in memory by default."""
    yield text("UPDATE service_areas SET name = upper(name)"), {}
    return "renamed"


async def test_a_savepoints_journal_never_goes_to_a_temporary_file(sessions, tmp_path):
    async with sessions() as session:
        await session.execute(
            _ADD_AREA, [{"key": f"area-{n}", "name": f"Area {n} " + "x" * 400} for n in range(2000)]
        )
        await session.commit()
    # SQLite creates its temporary files here and deletes each at once: the folder's change
    # time shows one was made.
    spill = tmp_path / "temporary"
    spill.mkdir()
    async with sessions() as session:
        await session.execute(text(f"PRAGMA temp_store_directory = '{spill}'"))
        # A build without the (deprecated) pragma would ignore it, and the test could not fail.
        assert await session.scalar(text("PRAGMA temp_store_directory")) == str(spill)
    try:
        # An hour back, so a file made in the same tick as the folder still shows.
        os.utime(spill, (time.time() - 3600, time.time() - 3600))
        before = spill.stat().st_mtime_ns
        async with sessions() as session:
            assert await direct.run_plan(session, _rename_every_area(), commit=True) == "renamed"
        assert spill.stat().st_mtime_ns == before
    finally:
        async with sessions() as session:
            await session.execute(text("PRAGMA temp_store_directory = ''"))
    async with sessions() as session:
        assert await session.scalar(select(func.count()).where(ServiceArea.name.like("AREA %"))) == 2000


async def test_those_asking_while_a_trip_waits_for_another_process_join_that_trip(sessions, tmp_path):
    """Another process writing holds the register's lock file: the trip already under way waits
    for it in its thread, and what asks meanwhile goes with it rather than after it."""
    counted: list[list] = []
    fd = os.open(f"{tmp_path / 'together.db'}-writer", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        tasks = []
        for _ in range(3):
            ready = asyncio.Event()
            tasks.append(asyncio.create_task(_run(sessions, _next_area(), ready, counted)))
            await ready.wait()
            await asyncio.sleep(0.05)  # the first is in its trip, waiting for the lock file
        assert not any(t.done() for t in tasks)
        fcntl.flock(fd, fcntl.LOCK_UN)
        assert await asyncio.gather(*tasks) == ["Area 1", "Area 2", "Area 3"]
    finally:
        os.close(fd)
    assert [len(trips) for trips in counted] == [1, 0, 0]
