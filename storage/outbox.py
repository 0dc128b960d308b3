"""The outbox: notifications written with the change that causes them, delivered once, in order.

A message is claimed with a lease before it is sent (an UPDATE only one sender can win), so two
bot instances never send it twice; a sender that dies mid-send leaves the lease to run out and
another picks the message up. Only the oldest pending message of each recipient is ever claimed,
so a recipient's messages arrive in the order they were written.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import OutboxMessage

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
NO_CONVERSATION = "no saved conversation: waiting for them to open the bot in Teams"


@dataclass(frozen=True)
class Recipient:
    person_id: int | None = None
    channel_id: str | None = None

    def __post_init__(self) -> None:
        if (self.person_id is None) == (self.channel_id is None):
            raise ValueError("a notification goes to one person or one channel")


def enqueue(
    session: AsyncSession,
    to: Recipient,
    activity: dict[str, Any],
    *,
    purpose: str,
    now: datetime,
    record_type: str | None = None,
    record_id: int | str | None = None,
    dedupe_key: str | None = None,
    updates_id: int | None = None,
    reply_to_id: int | None = None,
) -> OutboxMessage:
    """Queue a message; with `updates_id`, replace what that earlier message showed instead; with
    `reply_to_id`, answer in the thread that earlier message started in a channel."""
    operation = "update" if updates_id is not None else "reply" if reply_to_id is not None else "send"
    message = OutboxMessage(
        operation=operation,
        updates_id=updates_id if updates_id is not None else reply_to_id,
        person_id=to.person_id,
        channel_id=to.channel_id,
        purpose=purpose,
        record_type=record_type,
        record_id=None if record_id is None else str(record_id),
        activity=activity,
        dedupe_key=dedupe_key,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    return message


def _earlier_pending_for_same_recipient() -> Any:
    earlier = aliased(OutboxMessage)
    same_recipient = or_(
        and_(OutboxMessage.person_id.is_not(None), earlier.person_id == OutboxMessage.person_id),
        and_(OutboxMessage.channel_id.is_not(None), earlier.channel_id == OutboxMessage.channel_id),
    )
    return exists().where(earlier.status == PENDING, earlier.id < OutboxMessage.id, same_recipient)


async def claim_due(
    session: AsyncSession, *, now: datetime, lease: timedelta, limit: int = 50
) -> list[OutboxMessage]:
    """Claim up to `limit` messages that are due, each the next in line for its recipient."""
    candidates = (
        await session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == PENDING,
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
                ~_earlier_pending_for_same_recipient(),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    ).all()
    claimed: list[OutboxMessage] = []
    for message_id in candidates:
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == PENDING,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .values(claimed_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            message = await session.get(OutboxMessage, message_id, populate_existing=True)
            if message is not None:
                claimed.append(message)
    await session.commit()
    return claimed


async def renew(session: AsyncSession, message_id: int, *, held: datetime | None, until: datetime) -> bool:
    """Extend this sender's claim just before sending; False if another sender has taken it over
    (the lease ran out while earlier messages of the sweep were being sent)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == PENDING,
            OutboxMessage.claimed_until == held,
        )
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return result.rowcount == 1


async def mark_sent(
    session: AsyncSession,
    message_id: int,
    *,
    now: datetime,
    activity_id: str | None,
    conversation_id: str,
) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            status=SENT,
            sent_at=now,
            claimed_until=None,
            attempts=OutboxMessage.attempts + 1,
            last_error=None,
            sent_activity_id=activity_id,
            sent_conversation_id=conversation_id,
        )
    )
    await session.commit()


async def mark_retry(
    session: AsyncSession,
    message_id: int,
    *,
    next_attempt_at: datetime,
    error: str,
    count_attempt: bool = True,
) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            next_attempt_at=next_attempt_at,
            claimed_until=None,
            last_error=error[:400],
            attempts=OutboxMessage.attempts + (1 if count_attempt else 0),
        )
    )
    await session.commit()


async def mark_failed(session: AsyncSession, message_id: int, *, error: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            status=FAILED,
            claimed_until=None,
            last_error=error[:400],
            attempts=OutboxMessage.attempts + 1,
        )
    )
    await session.commit()


async def waiting_for_conversation(session: AsyncSession) -> list[OutboxMessage]:
    return list(
        (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == PENDING, OutboxMessage.last_error == NO_CONVERSATION)
                .order_by(OutboxMessage.id)
            )
        ).all()
    )


async def get(session: AsyncSession, message_id: int) -> OutboxMessage | None:
    return await session.get(OutboxMessage, message_id)


async def for_record(
    session: AsyncSession, record_type: str, record_id: int | str, *, purpose: str
) -> list[OutboxMessage]:
    """The messages sent (or still to be sent) about one record, for one purpose."""
    return list(
        (
            await session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.record_type == record_type,
                    OutboxMessage.record_id == str(record_id),
                    OutboxMessage.purpose == purpose,
                    OutboxMessage.operation == "send",
                )
                .order_by(OutboxMessage.id)
            )
        ).all()
    )
