"""How long the review sweep takes with a large register, and how much of it the sweep reads.

Fills a SQLite register with 1,000,000 restrictions, a few hundred of them due for a reminder,
then times the sweep's query for due reminders (it must use the index and read only the due
rows: target under 100 ms) and a whole sweep that claims and queues every due reminder.

    make bench            # or: .venv/bin/python bench/sweep.py [--restrictions N] [--due N]
"""

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from dialogs import reviews
from dialogs.turn import Services
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Restriction

TODAY = date(2026, 12, 10)  # a Thursday
NOW = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)


def fill(path: Path, total: int, due: int) -> None:
    db = sqlite3.connect(path)
    stamp = NOW.replace(tzinfo=None).isoformat(sep=" ")
    db.executescript(
        f"""
        INSERT INTO service_areas (id, key, name) VALUES (1, 'housing', 'Housing');
        INSERT INTO people (id, email, display_name, created_at, updated_at)
            VALUES (1, 'amy.manager@council.example', 'Amy Manager', '{stamp}', '{stamp}');
        INSERT INTO role_assignments (person_id, role, service_area_id) VALUES (1, 'manager', 1);
        INSERT INTO customers (id, name, created_at) VALUES (1, 'Pat Jones', '{stamp}');
        INSERT INTO incidents (id, reference, year, sequence, customer_id, reporter_id,
            service_area_id, occurred_at, reported_at, channel, category, behaviours, description,
            others_affected, ended_contact, left_premises, police_called, reporter_wants_support,
            urgent, status)
            VALUES (1, 'INC-2026-00001', 2026, 1, 1, 1, 1, '{stamp}', '{stamp}', 'phone', 'two',
            '[]', 'x', '[]', 0, 0, 0, 0, 0, 'decided');
        INSERT INTO decisions (id, incident_id, kind, deciding_body, decided_by_id, decided_at,
            reasons, without_prior_warning)
            VALUES (1, 1, 'active_management', 'manager', 1, '{stamp}', 'x', 0);
        """
    )
    far = TODAY + timedelta(days=90)
    rows = (
        (
            "contact_channels",
            "Email only",
            "service",
            "Do not take calls.",
            "2026-06-01",
            (TODAY + timedelta(days=14) if i < due else far + timedelta(days=i % 200)).isoformat(),
            (TODAY if i < due else far + timedelta(days=i % 200 - 14)).isoformat(),
        )
        for i in range(total)
    )
    db.executemany(
        """INSERT INTO restrictions (decision_id, customer_id, service_area_id, type, details, scope,
           frontline_instructions, starts_on, review_due_on, next_reminder_on, reviewer_id, status)
           VALUES (1, 1, 1, ?, ?, ?, ?, ?, ?, ?, 1, 'active')""",
        rows,
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()


def query_plan_and_steps(path: Path) -> tuple[str, int, int, float]:
    db = sqlite3.connect(path)
    query = (
        "SELECT id, next_reminder_on, reminder_stage, review_due_on FROM restrictions "
        "WHERE status = ? AND next_reminder_on <= ? ORDER BY next_reminder_on, id LIMIT 500"
    )
    args = ("active", TODAY.isoformat())
    plan = " / ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + query, args))
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    db.set_progress_handler(count, 100)  # one tick per 100 virtual machine instructions
    started = time.perf_counter()
    found = db.execute(query, args).fetchall()
    elapsed = (time.perf_counter() - started) * 1000
    db.set_progress_handler(None, 0)
    return plan, len(found), steps * 100, elapsed


async def whole_sweep(path: Path) -> tuple[int, float]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    services = Services(sessions=session_factory(engine), clock=lambda: NOW, zone=ZoneInfo("Europe/London"))
    started = time.perf_counter()
    queued = await reviews.sweep_reviews(services)
    elapsed = (time.perf_counter() - started) * 1000
    async with services.sessions() as session:
        left = (
            await session.execute(select(Restriction.id).where(Restriction.next_reminder_on <= TODAY))
        ).all()
    await engine.dispose()
    assert not left, "every due reminder was claimed"
    return queued, elapsed


async def migrate(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restrictions", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "register.db"
        asyncio.run(migrate(path))
        started = time.perf_counter()
        fill(path, args.restrictions, args.due)
        print(
            f"register: {args.restrictions:,} restrictions, {args.due} due "
            f"({time.perf_counter() - started:.1f} s to fill)"
        )
        plan, rows, instructions, ms = query_plan_and_steps(path)
        print(f"due query plan: {plan}")
        print(
            f"due query: {ms:.2f} ms, {rows} rows returned, ~{instructions:,} VM instructions "
            "(target < 100 ms)"
        )
        queued, sweep_ms = asyncio.run(whole_sweep(path))
        print(
            f"whole sweep: {sweep_ms:.0f} ms to claim and queue {queued} reminders "
            f"({sweep_ms / max(queued, 1):.1f} ms each)"
        )


if __name__ == "__main__":
    main()
