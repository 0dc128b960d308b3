"""The migrations build exactly the tables the models describe, on both databases."""

import asyncio
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import create_engine
from storage.migrate import HEAD, alembic_config, current_revision, upgrade
from storage.models import Base


async def test_migrated_schema_matches_the_models(engine):
    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_the_register_is_at_the_latest_revision(engine):
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert await current_revision(engine) == head


def test_the_shortcut_at_start_up_knows_the_newest_migration():
    # Start-up skips Alembic when the register says HEAD: a stale HEAD would skip a migration.
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


async def test_a_register_one_migration_behind_is_brought_up_to_date(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'older.db'}")
    try:
        await upgrade(engine, "0008")
        assert await current_revision(engine) == "0008"
        await upgrade(engine)
        assert await current_revision(engine) == HEAD
        async with engine.connect() as conn:  # the indexes of the later migrations are really there
            indexes = set(
                (await conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))).scalars()
            )
            assert {
                "ix_outbox_record",
                "ix_role_assignments_role_area",
                "ix_audit_events_action_at",
                "ix_outbox_in_line",
            } <= indexes
        await upgrade(engine)  # and a start on an up-to-date register changes nothing
        assert await current_revision(engine) == HEAD
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_instances_starting_together_migrate_a_new_database_once(postgres_database):
    """Two or more instances behind a load balancer each migrate at start; the first does the work."""
    fresh = make_url(postgres_database).set(database=f"{make_url(postgres_database).database}_fresh")
    admin = create_async_engine(
        make_url(postgres_database).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{fresh.database}"'))
        await conn.execute(text(f'CREATE DATABASE "{fresh.database}"'))
    engines = [create_engine(fresh) for _ in range(3)]
    try:
        # Without the migration lock they wait on each other's half-made tables for ever.
        await asyncio.wait_for(asyncio.gather(*(upgrade(e) for e in engines)), timeout=60)
        revisions = {await current_revision(e) for e in engines}
        assert revisions == {ScriptDirectory.from_config(alembic_config()).get_current_head()}
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{fresh.database}" WITH (FORCE)'))
        await admin.dispose()
        for e in engines:
            await e.dispose()


async def _plan(engine, statement, params: dict) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN of a statement, its details one string a step."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the plan is read with SQLite's EXPLAIN QUERY PLAN")
    compiled = statement.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    # The plan does not depend on the values: times go as text, as SQLite stores them.
    given = {
        k: v.isoformat() if isinstance(v, datetime) else v for k, v in {**compiled.params, **params}.items()
    }
    async with engine.connect() as conn:
        rows = (
            await conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}", tuple(given[name] for name in compiled.positiontup)
            )
        ).all()
    return [str(row[-1]) for row in rows]


async def test_the_messages_about_a_record_are_found_by_index_not_by_scanning_the_outbox(engine):
    from storage.outbox import _COPIES

    params = {"record_type": "incident", "record_id": "7", "purpose": "incident.decide"}
    plan = await _plan(engine, _COPIES, params)
    assert any("ix_outbox_record" in step for step in plan), plan


async def test_an_areas_deciders_are_found_by_their_roles_not_by_reading_every_person(engine):
    from storage.people import _DECIDERS

    plan = await _plan(engine, _DECIDERS, {"service_area_id": 1})
    assert any("ix_role_assignments_role_area" in step for step in plan), plan
    assert not any(step.startswith("SCAN people") for step in plan), plan


async def test_the_monthly_access_report_reads_one_months_views_by_index(engine):
    from storage.audit import views_between

    month = views_between(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    plan = await _plan(engine, month, {})
    assert any("ix_audit_events_action_at" in step for step in plan), plan
    assert not any(step.startswith("SCAN audit_events") for step in plan), plan


async def test_each_recipients_next_message_is_found_from_the_index_alone(engine):
    from storage.outbox import _next_in_line

    plan = await _plan(engine, _next_in_line(), {})
    assert any("COVERING INDEX ix_outbox_in_line" in step for step in plan), plan


BEFORE_0014 = [
    "INSERT INTO people (id, email, display_name, guest, created_at, updated_at) VALUES "
    + ", ".join(
        f"({n}, '{name}@c.example', '{name}', false, '2026-11-01 09:00:00', '2026-11-01 09:00:00')"
        for n, name in ((1, "sam"), (2, "elle"), (3, "amy"))
    ),
    "INSERT INTO role_assignments (person_id, role) VALUES (2, 'elected_member')",
    "INSERT INTO service_areas (id, key, name) VALUES (1, 'housing', 'Housing')",
    "INSERT INTO customers (id, name, created_at) VALUES (1, 'Pat', '2026-11-01 09:00:00')",
    *(
        "INSERT INTO incidents (id, reference, year, sequence, customer_id, reporter_id, service_area_id, "
        "occurred_at, reported_at, channel, category, behaviours, description, others_affected, "
        "ended_contact, left_premises, police_called, reporter_wants_support, urgent, status) VALUES "
        f"({n}, 'INC-2026-0000{n}', 2026, {n}, 1, {reporter}, 1, '2026-11-23 09:00:00', "
        "'2026-11-23 10:00:00', 'phone', 'two', '[]', 'x', '[]', true, false, false, false, false, 'decided')"
        for n, reporter in ((1, 1), (2, 2))
    ),
    "INSERT INTO decisions (id, incident_id, kind, deciding_body, decided_by_id, decided_at, reasons, "
    "without_prior_warning) VALUES "
    "(1, 1, 'active_management', 'manager', 3, '2026-11-23 11:00:00', 'r', false)",
    *(
        "INSERT INTO appeals (id, incident_id, against, decision_id, previous_appeal_id, route, received_on, "
        "grounds, late, logged_by_id, logged_at, status, open_key, outcome) VALUES "
        f"({n}, {incident}, '{against}', {decision}, {previous}, '{route}', '2026-11-30', 'g', false, 3, "
        f"'2026-11-30 10:00:00', '{status}', {key}, {outcome})"
        for n, incident, against, decision, previous, route, status, key, outcome in (
            (1, 1, "decision", 1, "NULL", "complaints_review_group", "decided", "NULL", "'upheld'"),
            (2, 1, "appeal", 1, 1, "chief_executive", "decided", "NULL", "'varied'"),
            (
                3,
                1,
                "immediate_action",
                "NULL",
                "NULL",
                "complaints_procedure",
                "decided",
                "NULL",
                "'overturned'",
            ),
            (
                4,
                2,
                "immediate_action",
                "NULL",
                "NULL",
                "complaints_procedure",
                "open",
                "'2:immediate_action::'",
                "NULL",
            ),
        )
    ),
]


async def _the_appeals_of_0013_in_todays_words(engine) -> None:
    await upgrade(engine, "0013")
    async with engine.begin() as conn:
        for statement in BEFORE_0014:
            await conn.execute(text(statement))
    await upgrade(engine)
    async with engine.connect() as conn:
        appeals = (
            await conn.execute(
                text("SELECT id, against, step, stage, outcome, open_key FROM appeals ORDER BY id")
            )
        ).all()
        reported_as = (
            (await conn.execute(text("SELECT reported_as FROM incidents ORDER BY id"))).scalars().all()
        )
    # The customer's side: what stood is "not upheld", "varied" is "partly upheld", "overturned" is "upheld".
    assert [tuple(a) for a in appeals] == [
        (1, "decision", "decision:1", None, "not_upheld", None),
        (2, "appeal_outcome", "appeal:1", None, "partly_upheld", None),
        (3, "immediate_action", "immediate_action:1", 1, "upheld", None),
        (4, "immediate_action", "immediate_action:2", 1, None, "2:immediate_action:2"),
    ]
    assert reported_as == ["employee", "elected_member"]


async def test_appeals_recorded_before_0014_read_in_todays_words(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'older.db'}")
    try:
        await _the_appeals_of_0013_in_todays_words(engine)
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_appeals_recorded_before_0014_read_in_todays_words_on_postgresql(postgres_database):
    older = make_url(postgres_database).set(database=f"{make_url(postgres_database).database}_older")
    admin = create_async_engine(
        make_url(postgres_database).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{older.database}"'))
        await conn.execute(text(f'CREATE DATABASE "{older.database}"'))
    engine = create_engine(older)
    try:
        await _the_appeals_of_0013_in_todays_words(engine)
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{older.database}" WITH (FORCE)'))
        await admin.dispose()
