"""The audit trail: every change to the register and every read of a customer's record."""

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent


def record(
    session: AsyncSession,
    *,
    now: datetime,
    actor_id: int | None,
    action: str,
    record_type: str,
    record_id: int | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an event to the session: it commits, or rolls back, with the change it describes.

    `detail` holds ids, keys and enum values, never names or free text: the audit trail outlives
    the personal data it points at.
    """
    event = AuditEvent(
        occurred_at=now,
        actor_id=actor_id,
        action=action,
        record_type=record_type,
        record_id=None if record_id is None else str(record_id),
        detail=detail or {},
    )
    session.add(event)
    return event
