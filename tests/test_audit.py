"""The audit trail is append-only and tamper-evident."""

import asyncio
import hashlib
import json
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage import audit
from storage.models import AuditEvent
from tests.support.reporting import report
from tests.support.teams import AMY, KIM, SAM
from tests.test_cli import run


async def _events(harness) -> None:
    await harness.import_roles()
    for person in (AMY, KIM, SAM):
        await harness.say(person, "hi")
    await asyncio.gather(*(report(harness, who) for who in (SAM, AMY, KIM)))  # writers at once


async def test_the_chain_holds_after_concurrent_writers(harness):
    await _events(harness)
    async with harness.sessions() as session:
        checked, broken = await audit.verify(session)
    assert broken is None
    assert checked >= 9  # six role grants, two service areas... and three reports


async def test_a_changed_event_is_found_and_named(harness, database_url, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL refuses the change outright: see the next test")
    await _events(harness)
    path = database_url.split("///", 1)[1]
    db = sqlite3.connect(path)
    # Someone with the file drops the guard and rewrites who reported an incident.
    db.execute("DROP TRIGGER audit_events_no_update")
    db.execute("UPDATE audit_events SET actor_id = 999 WHERE seq = 5")
    db.commit()
    db.close()
    async with harness.sessions() as session:
        checked, broken = await audit.verify(session)
    assert checked == 4
    assert broken is not None and broken.seq == 5
    assert broken.reason == "its contents were changed after it was written"

    result = run("audit", "verify", cwd=tmp_path, env={"DATABASE_URL": database_url})
    assert result.returncode == 1
    assert result.stdout.startswith("audit trail broken at event 5 (row 5): its contents were changed")


async def test_a_removed_event_is_found(harness, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL refuses the removal outright: see the next test")
    await _events(harness)
    db = sqlite3.connect(database_url.split("///", 1)[1])
    db.execute("DROP TRIGGER audit_events_no_delete")
    db.execute("DELETE FROM audit_events WHERE seq = 3")
    db.commit()
    db.close()
    async with harness.sessions() as session:
        _, broken = await audit.verify(session)
    assert broken is not None and (broken.seq, broken.reason) == (3, "event 3 is missing")


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET actor_id = NULL", "DELETE FROM audit_events", "TRUNCATE audit_events"],
)
async def test_the_database_itself_refuses_to_change_the_audit_log(harness, database_url, statement):
    if database_url.startswith("sqlite") and statement.startswith("TRUNCATE"):
        pytest.skip("SQLite has no TRUNCATE")
    await _events(harness)
    async with harness.sessions() as session:
        with pytest.raises(DBAPIError) as refused:
            await session.execute(text(statement))
            await session.commit()
        assert "append-only" in str(refused.value)
    async with harness.sessions() as session:
        _, broken = await audit.verify(session)
    assert broken is None


async def test_verify_from_the_command_line_when_intact(harness, database_url, tmp_path):
    await _events(harness)
    result = run("audit", "verify", cwd=tmp_path, env={"DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("audit trail intact: ")


async def test_writers_waiting_for_the_chain_each_get_their_link_and_the_chain_never_forks(sessions):
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    first = sessions()
    await audit.record(first, now=now, actor_id=None, action="held", record_type="test")  # holds the head
    served: list[str] = []

    async def writer(n: int) -> None:
        async with sessions() as session:
            await audit.record(session, now=now, actor_id=None, action=f"writer {n}", record_type="test")
            served.append(f"writer {n}")
            await session.commit()

    waiting = []
    for n in range(8):
        waiting.append(asyncio.create_task(writer(n)))
        await asyncio.sleep(0.05)  # each is queued before the next asks
    await first.commit()
    await first.close()
    await asyncio.gather(*waiting)
    assert sorted(served) == [f"writer {n}" for n in range(8)]
    async with sessions() as session:
        checked, broken = await audit.verify(session)
        assert broken is None and checked == 9


def test_an_events_hash_is_the_sha256_of_the_previous_hash_and_its_canonical_json():
    """The formula `audit verify` and every register written so far rely on, spelled out here."""
    at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    detail = {"reference": "INC-2026-00001", "note": "Zoë's café", "z": None, "a": [2, 1]}
    event = AuditEvent(
        seq=41,
        occurred_at=at,
        actor_id=None,
        action="incident.reported",
        record_type="incident",
        record_id="7",
        detail=detail,
    )
    payload = {
        "seq": 41,
        "at": at.isoformat(),
        "actor": None,
        "action": "incident.reported",
        "type": "incident",
        "record": "7",
        "detail": detail,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    previous = "ab" * 32
    assert audit.digest(previous, event) == hashlib.sha256(f"{previous}|{canonical}".encode()).hexdigest()


@pytest.mark.parametrize("count", [1, 3, 9])
async def test_events_chained_together_verify(sessions, count):
    """The hashes written are the ones `audit verify` computes again, for any number of events
    at once, with text from beyond ASCII in their details."""
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    async with sessions() as session:
        await audit.record(session, now=now, actor_id=None, action="first", record_type="test", record_id=1)
        await session.commit()
    entries = [
        audit.Entry(None, f"event {n}", "test", n, {"n": n, "name": "Zoë", "nested": {"b": 1, "a": None}})
        for n in range(count)
    ]
    async with sessions() as session:
        await audit.record_many(session, entries, now=now)
        await session.commit()
    async with sessions() as session:
        checked, broken = await audit.verify(session)
        stored = (await session.execute(text("SELECT seq, action FROM audit_events ORDER BY seq"))).all()
    assert broken is None and checked == count + 1
    assert [tuple(row) for row in stored][-count:] == [(n + 2, f"event {n}") for n in range(count)]
