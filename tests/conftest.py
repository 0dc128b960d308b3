"""Fixtures: a register on SQLite and on PostgreSQL, a recording Teams connector, the bot."""

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.audit import GENESIS
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Base
from tests.support import card_check
from tests.support.clock import FakeClock
from tests.support.connector import RecordingConnector
from tests.support.harness import BotHarness

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _postgres_unavailable() -> str | None:
    url = make_url(POSTGRES_URL)

    async def probe() -> None:
        conn = await asyncpg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            database=url.database,
            timeout=3,
        )
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as error:  # any reason at all: say it in the skip
        return f"PostgreSQL at {url.host}:{url.port} is not reachable ({type(error).__name__})"
    return None


@pytest.fixture(scope="session")
def card_validator() -> Iterator[card_check.Validator | None]:
    """Microsoft's Adaptive Cards library in one Node process, or None where it is missing
    (tests/test_cards_valid.py then skips with the reason, or fails under CI)."""
    if card_check.missing():
        yield None
        return
    validator = card_check.Validator()
    yield validator
    validator.close()


@pytest.fixture(autouse=True)
def cards_are_valid(card_validator: card_check.Validator | None) -> Iterator[None]:
    """Every card this test saw the bot send, as Teams' own renderer would parse it."""
    yield
    cards = card_check.take()
    if card_validator is None:
        return
    problems = card_validator.check(cards)
    if problems:
        pytest.fail("Adaptive Cards the library refuses:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test: migrating once keeps the suite fast."""
    path = tmp_path_factory.mktemp("template") / "engagement.db"

    async def migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this run's own, migrated once, dropped at the end."""
    problem = _postgres_unavailable()
    if problem:
        if IN_CI:
            pytest.fail(f"CI must test on PostgreSQL: {problem}")
        pytest.skip(problem)
    admin = make_url(POSTGRES_URL)
    name = f"engagement_test_{os.getpid()}"
    connect = dict(
        host=admin.host,
        port=admin.port or 5432,
        user=admin.username,
        password=admin.password,
        database=admin.database,
    )

    async def create() -> None:
        conn = await asyncpg.connect(**connect)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        engine = create_engine(admin.set(database=name).render_as_string(hide_password=False))
        await upgrade(engine)
        await engine.dispose()

    async def drop() -> None:
        conn = await asyncpg.connect(**connect)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(create())
    yield admin.set(database=name).render_as_string(hide_password=False)
    asyncio.run(drop())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "engagement.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_database")

    async def empty() -> None:
        engine = create_engine(url)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            # The audit log refuses TRUNCATE by trigger; a superuser's replica role skips triggers.
            await conn.execute(text("SET session_replication_role = replica"))
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            await conn.execute(
                text(f"INSERT INTO audit_head (id, seq, last_hash) VALUES (1, 0, '{GENESIS}')")
            )
        await engine.dispose()

    asyncio.run(empty())
    yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def connector() -> AsyncIterator[RecordingConnector]:
    recorder = RecordingConnector()
    await recorder.start()
    yield recorder
    await recorder.stop()


@pytest.fixture
async def harness(
    database_url: str, connector: RecordingConnector, clock: FakeClock
) -> AsyncIterator[BotHarness]:
    bot = BotHarness(database_url, connector, clock)
    await bot.start()
    yield bot
    await bot.stop()
