"""The audit trail: every change to the register and every read of a customer's record.

Append-only and tamper-evident: each event carries the hash of the one before, so altering or
removing any event breaks the chain from there on (`engagement-bot audit verify` finds it). The
chain's head is one row, updated in the same transaction as each event is added: that UPDATE
takes the row's lock, so concurrent writers queue and the chain never forks.
"""

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, AuditHead

GENESIS = "0" * 64


def digest(previous: str, event: AuditEvent) -> str:
    payload = {
        "seq": event.seq,
        "at": event.occurred_at.astimezone(UTC).isoformat(),
        "actor": event.actor_id,
        "action": event.action,
        "type": event.record_type,
        "record": event.record_id,
        "detail": event.detail,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{previous}|{canonical}".encode()).hexdigest()


async def record(
    session: AsyncSession,
    *,
    now: datetime,
    actor_id: int | None,
    action: str,
    record_type: str,
    record_id: int | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an event: it commits, or rolls back, with the change it describes.

    `detail` holds ids, keys and enum values, never names or free text: the audit trail outlives
    the personal data it points at.
    """
    head = (
        await session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.last_hash)
            .execution_options(synchronize_session=False)
        )
    ).one()
    event = AuditEvent(
        seq=head.seq,
        occurred_at=now.astimezone(UTC),
        actor_id=actor_id,
        action=action,
        record_type=record_type,
        record_id=None if record_id is None else str(record_id),
        detail=detail or {},
        prev_hash=head.last_hash,
    )
    event.hash = digest(head.last_hash, event)
    await session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_hash=event.hash)
        .execution_options(synchronize_session=False)
    )
    session.add(event)
    return event


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
