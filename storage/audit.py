"""The audit trail: every change to the register and every read of a customer's record.

Append-only and tamper-evident: each event carries the hash of the one before, so altering or
removing any event breaks the chain from there on (`engagement-bot audit verify` finds it). The
chain's head is one row, updated in the same transaction as each event is added: that UPDATE
takes the row's lock, so concurrent writers queue and the chain never forks.
"""

import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct
from storage.compiled import SENT_LATER
from storage.models import AuditEvent, AuditHead

GENESIS = "0" * 64


def digest(previous: str, event: AuditEvent) -> str:
    return _link(
        previous,
        event.seq,
        event.occurred_at,
        event.actor_id,
        event.action,
        event.record_type,
        event.record_id,
        event.detail,
    )


def _link(
    previous: str,
    seq: int,
    at: datetime,
    actor_id: int | None,
    action: str,
    record_type: str,
    record_id: str | None,
    detail: dict[str, Any],
) -> str:
    payload = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(),
        "actor": actor_id,
        "action": action,
        "type": record_type,
        "record": record_id,
        "detail": detail,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{previous}|{canonical}".encode()).hexdigest()


_head = AuditHead.__table__
_ADVANCE = (
    update(_head)
    .where(_head.c.id == 1)
    .values(seq=_head.c.seq + bindparam("count", type_=Integer))
    .returning(_head.c.seq, _head.c.last_hash)
)
# PostgreSQL wakes every writer waiting on the head's row together when its holder commits, and
# they race for it: at 20 decisions at once some waited half a second while later ones went
# first. So there writers first queue on an advisory lock (two-key space, as the reports' queue
# for numbers; the key reads "AUD"), first come first served, and find the row free. The lock is
# taken in the same statement, before the row is read (an InitPlan runs first): no extra trip
# to the server while others wait. SQLite's writers already take turns in order.
_AUDIT = 0x415544
_ADVANCE_IN_TURN = _ADVANCE.where(
    select(func.pg_advisory_xact_lock(_AUDIT, 0)).scalar_subquery().is_not(None)
)
# Nothing reads their results back: on SQLite they go with the commit (`SENT_LATER`).
_LINK = (
    update(_head)
    .where(_head.c.id == 1)
    .values(last_hash=bindparam("new_hash"))
    .execution_options(**SENT_LATER)
)
_INSERT = insert(AuditEvent.__table__).execution_options(**SENT_LATER)
_EVENT_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_id",
    "action",
    "record_type",
    "record_id",
    "detail",
    "prev_hash",
    "hash",
)
_APPEND: dict[int, Any] = {}
_MOST_APPENDED_AT_ONCE = 8


def _append(count: int) -> Any:
    """PostgreSQL: the head's new hash and `count` events in one statement (a data-modifying WITH
    runs whether or not the INSERT reads it): a round trip fewer while other writers wait for
    the head. Built once for each count."""
    if count not in _APPEND:
        events = AuditEvent.__table__
        rows = [
            {c: bindparam(f"{c}_{i}", type_=events.c[c].type) for c in _EVENT_COLUMNS} for i in range(count)
        ]
        link = _LINK.cte("link")
        _APPEND[count] = insert(events).values(rows).add_cte(link)
    return _APPEND[count]


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
    if entries:
        await direct.run_plan(session, record_steps(entries, now=now, dialect=direct.dialect_name(session)))


def record_steps(entries: Sequence[Entry], *, now: datetime, dialect: str) -> direct.Plan[None]:
    """`record_many` as steps of a larger plan (`storage.direct`), for `dialect`."""
    if not entries:
        return
    advance = _ADVANCE_IN_TURN if dialect == "postgresql" else _ADVANCE
    ((head_seq, previous),) = yield advance, {"count": len(entries)}
    at = now.astimezone(UTC)
    rows = []
    # Rows as plain dicts, hashed as `digest` hashes the event they become: no ORM object is made
    # for a row only ever inserted.
    for seq, entry in enumerate(entries, start=head_seq - len(entries) + 1):
        record_id = None if entry.record_id is None else str(entry.record_id)
        detail = entry.detail or {}
        chained = _link(previous, seq, at, entry.actor_id, entry.action, entry.record_type, record_id, detail)
        rows.append(
            {
                "seq": seq,
                "occurred_at": at,
                "actor_id": entry.actor_id,
                "action": entry.action,
                "record_type": entry.record_type,
                "record_id": record_id,
                "detail": detail,
                "prev_hash": previous,
                "hash": chained,
            }
        )
        previous = chained
    if dialect == "postgresql" and len(rows) <= _MOST_APPENDED_AT_ONCE:
        values = {f"{c}_{i}": row[c] for i, row in enumerate(rows) for c in _EVENT_COLUMNS}
        yield _append(len(rows)), {"new_hash": previous, **values}
        return
    yield _LINK, {"new_hash": previous}
    # One executemany without RETURNING: nothing reads an event's id back in the transaction.
    yield _INSERT, rows


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
