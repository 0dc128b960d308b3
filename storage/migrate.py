"""Alembic migrations, run in-process on an async engine."""

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import schema_changes_of

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration's revision. Every start asks whether the register is there already, and
# answering from this constant spares importing Alembic (a fifth of start-up) when it is; a test
# keeps it equal to Alembic's own head.
HEAD = "0017"
# Any fixed number: instances starting together queue on it, and the first one migrates.
MIGRATION_LOCK = 0x656E6761  # "enga"


def alembic_config(connection: Connection | None = None) -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def _at_head(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except DBAPIError:  # a new, empty database has no version table yet
        return False
    return versions == [HEAD]


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    if revision == "head" and await _at_head(engine):
        return

    def run(connection: Connection) -> None:
        from alembic import command

        if connection.dialect.name == "postgresql":
            # Held until this transaction ends; PostgreSQL's DDL is transactional, so the next
            # instance sees the finished schema and has nothing left to do.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        command.upgrade(alembic_config(connection), revision)

    changing = schema_changes_of(engine)
    if changing is None:
        async with engine.begin() as conn:
            await conn.run_sync(run)
        return
    try:
        async with changing.begin() as conn:
            await conn.run_sync(run)
            broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
            if broken:  # rolled back: the register stays as it was
                raise RuntimeError(f"the migration would leave {len(broken)} broken reference(s)")
    finally:
        await changing.dispose()


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)
