"""The audit trail: every change to the register and every read of a customer's record.

Append-only and tamper-evident: each event carries the hash of the one before, so altering or
removing any event breaks the chain from there on (`engagement-bot audit verify` finds it). The
chain's head is one row, updated in the same transaction as each event is added: that UPDATE
takes the row's lock, so concurrent writers queue and the chain never forks.
"""

import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, Select, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, AuditHead

GENESIS = "0" * 64


def digest(previous: str, event: AuditEvent) -> str:
    stored = Entry(event.actor_id, event.action, event.record_type, event.record_id, event.detail)
    return _link(previous, event.seq, event.occurred_at, stored)


def _link(previous: str, seq: int, at: datetime, entry: "Entry") -> str:
    before, after = _canonical_around_seq(at, entry)
    return hashlib.sha256(f"{previous}|{before}{seq}{after}".encode()).hexdigest()


def _canonical_around_seq(at: datetime, entry: "Entry") -> tuple[str, str]:
    """An event's canonical JSON (keys sorted, no spaces, ASCII only) as the text before its
    sequence number and the text after it. "seq" sorts after every key but "type"."""
    sorted_before = {
        "action": entry.action,
        "actor": entry.actor_id,
        "at": at.astimezone(UTC).isoformat(),
        "detail": entry.detail,
        "record": entry.record_id,
    }
    before = json.dumps(sorted_before, sort_keys=True, separators=(",", ":"), default=str)
    after = json.dumps({"type": entry.record_type}, separators=(",", ":"))
    return before[:-1] + ',"seq":', "," + after[1:]


_head = AuditHead.__table__
_ADVANCE = (
    update(_head)
    .where(_head.c.id == 1)
    .values(seq=_head.c.seq + bindparam("count", type_=Integer))
    .returning(_head.c.seq, _head.c.last_hash)
)
_LINK = update(_head).where(_head.c.id == 1).values(last_hash=bindparam("new_hash"))
_INSERT = insert(AuditEvent.__table__)
# The columns an `Entry` gives each event, under the same names.
_GIVEN = ("actor_id", "action", "record_type", "record_id", "detail")


@dataclass(frozen=True)
class Entry:
    """One event to add; `detail` holds ids, keys and enum values, never names or free text: the
    audit trail outlives the personal data it points at."""

    actor_id: int | None
    action: str
    record_type: str
    record_id: int | str | None = None
    detail: dict[str, Any] | None = None


async def record(
    session: AsyncSession,
    *,
    now: datetime,
    actor_id: int | None,
    action: str,
    record_type: str,
    record_id: int | str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an event: it commits, or rolls back, with the change it describes."""
    await record_many(session, [Entry(actor_id, action, record_type, record_id, detail)], now=now)


async def record_many(session: AsyncSession, entries: Sequence[Entry], *, now: datetime) -> None:
    """Add several events, in order, taking the chain head's lock once.

    Call it as late in the transaction as the change allows: from the head's UPDATE until the
    commit, every other writer of the audit trail waits.
    """
    if not entries:
        return
    at = now.astimezone(UTC)
    # As they are stored, and so hashed: the record's id as text, no details as {}.
    stored = [
        replace(e, record_id=None if e.record_id is None else str(e.record_id), detail=e.detail or {})
        for e in entries
    ]
    head_seq, previous = (await session.execute(_ADVANCE, {"count": len(stored)})).one()
    rows = []
    for seq, entry in enumerate(stored, start=head_seq - len(stored) + 1):
        chained = _link(previous, seq, at, entry)
        rows.append(
            {
                "seq": seq,
                "occurred_at": at,
                **{column: getattr(entry, column) for column in _GIVEN},
                "prev_hash": previous,
                "hash": chained,
            }
        )
        previous = chained
    await session.execute(_LINK, {"new_hash": previous})
    await session.execute(_INSERT, rows)


# The events that record someone reading a record, for the monthly access report.
READ_ACTIONS = (
    "customer.record_viewed",
    "customer.checked",
    "customer.searched",  # the report form's search shows names: a read like any other
    "customer.exported",
    "incident.viewed",
    "restriction.viewed",
    "appeal.viewed",
    "letter.downloaded",
)


def views_between(start: datetime, end: datetime) -> Select[tuple[int | None, str, str | None]]:
    """Who read which record from `start` until `end`: (actor, record type, record id), found by
    `ix_audit_events_action_at`, without the rest of each event."""
    return select(AuditEvent.actor_id, AuditEvent.record_type, AuditEvent.record_id).where(
        AuditEvent.action.in_(READ_ACTIONS),
        AuditEvent.occurred_at >= start.astimezone(UTC),
        AuditEvent.occurred_at < end.astimezone(UTC),
    )


@dataclass(frozen=True)
class Break:
    seq: int
    event_id: int | None
    reason: str


async def _events(session: AsyncSession) -> AsyncIterator[AuditEvent]:
    result = await session.stream_scalars(select(AuditEvent).order_by(AuditEvent.seq))
    async for event in result:
        yield event


async def verify(session: AsyncSession) -> tuple[int, Break | None]:
    """Walk the chain; returns how many events were checked and the first broken link, if any."""
    previous = GENESIS
    expected_seq = 1
    checked = 0
    async for event in _events(session):
        if event.seq != expected_seq:
            return checked, Break(expected_seq, None, f"event {expected_seq} is missing")
        if event.prev_hash != previous:
            return checked, Break(event.seq, event.id, "it does not follow the event before it")
        if digest(previous, event) != event.hash:
            return checked, Break(event.seq, event.id, "its contents were changed after it was written")
        previous = event.hash
        expected_seq += 1
        checked += 1
    head = await session.get(AuditHead, 1)
    if head is not None and head.seq != checked:
        return checked, Break(checked + 1, None, f"the chain should hold {head.seq} events, not {checked}")
    return checked, None
