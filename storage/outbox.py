"""The outbox: notifications written with the change that causes them, delivered once, in order.

A batch of messages is claimed with a lease before they are sent (one UPDATE only one sender can
win for each row), so two bot instances never send a message twice; a sender that dies mid-send
leaves the lease to run out and another picks the message up. Only the oldest pending message of
each recipient is ever claimed, so a recipient's messages arrive in the order they were written;
except that an urgent message (a category-one incident's card) goes before the recipient's normal
ones, so nobody's run of notes can hold it up. An update or a reply takes the priority of the
message it follows, so it is never sent before it.
"""

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Dialect,
    Integer,
    Select,
    Text,
    any_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator

from storage.models import OutboxMessage

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
NORMAL = 0
URGENT = 1
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
    priority: int = NORMAL,
) -> OutboxMessage:
    """Queue a message; with `updates_id`, replace what that earlier message showed instead; with
    `reply_to_id`, answer in the thread that earlier message started in a channel (either keeps
    that message's priority, whatever `priority` says)."""
    operation = "update" if updates_id is not None else "reply" if reply_to_id is not None else "send"
    root = updates_id if updates_id is not None else reply_to_id
    message = OutboxMessage(
        operation=operation,
        updates_id=root,
        # An expression the flush evaluates: the root is read in the INSERT itself.
        priority=priority if root is None else _root_priority(literal(root), literal(priority)),
        person_id=to.person_id,
        channel_id=to.channel_id,
        purpose=purpose,
        record_type=record_type,
        record_id=None if record_id is None else str(record_id),
        activity=_without_id(activity),
        dedupe_key=dedupe_key,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    return message


def encode(activity: dict[str, Any]) -> str:
    """An activity as the outbox column stores it (the JSON type's own encoding), so a card sent
    to several people is encoded once and the text reused for each row."""
    return json.dumps(_without_id(activity))


def _without_id(activity: dict[str, Any]) -> dict[str, Any]:
    # Teams gives each activity its id. An update is posted as the stored text with the id of the
    # activity it replaces put in front (`bot.connector`), so the text must hold none of its own.
    if "id" in activity:
        raise ValueError("an activity is queued without an id: Teams gives it one")
    return activity


class _Encoded(TypeDecorator[str]):
    """The JSON column, given text `encode` has already made: stored as it is, not encoded again.
    Still JSON to the database, so PostgreSQL receives a json parameter as before."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


@dataclass(frozen=True)
class Queued:
    """A message for `enqueue_all`, its activity already encoded; `updates_id` and `reply_to_id`
    as for `enqueue`."""

    to: Recipient
    activity: str
    purpose: str
    record_type: str | None = None
    record_id: int | str | None = None
    dedupe_key: str | None = None
    updates_id: int | None = None
    reply_to_id: int | None = None
    priority: int = NORMAL


_root = OutboxMessage.__table__.alias("root")


def _root_priority(root_id: ColumnElement[Any], asked: ColumnElement[Any]) -> ColumnElement[int]:
    """The priority of the message an update or reply follows, or `asked` if it follows none:
    a follower in the same lane as its root, behind it, can never be sent before it."""
    root = select(_root.c.priority).where(_root.c.id == root_id).scalar_subquery()
    return func.coalesce(root, asked)


_INSERT = insert(OutboxMessage.__table__).values(
    activity=bindparam("activity", type_=_Encoded()),
    priority=_root_priority(bindparam("q_root", type_=Integer), bindparam("q_priority", type_=Integer)),
)


async def enqueue_all(session: AsyncSession, messages: Sequence[Queued], *, now: datetime) -> None:
    """Queue several messages, in order, with one INSERT."""
    if not messages:
        return
    if session.new:
        # Rows queued earlier through `enqueue` must keep the earlier ids: delivery follows them.
        await session.flush()
    await session.execute(_INSERT, _rows(messages, now))


def _rows(messages: Sequence[Queued], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "operation": "update"
            if m.updates_id is not None
            else "reply"
            if m.reply_to_id is not None
            else "send",
            "updates_id": m.updates_id if m.updates_id is not None else m.reply_to_id,
            "q_root": m.updates_id if m.updates_id is not None else m.reply_to_id,
            "q_priority": m.priority,
            "person_id": m.to.person_id,
            "channel_id": m.to.channel_id,
            "purpose": m.purpose,
            "record_type": m.record_type,
            "record_id": None if m.record_id is None else str(m.record_id),
            "activity": m.activity,
            "dedupe_key": m.dedupe_key,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for m in messages
    ]


def _next_in_line() -> Select[tuple[int]]:
    """Each recipient's next message: their oldest pending urgent one if they have one, else their
    oldest pending one. One pass over the pending rows by `ix_outbox_in_line`, where asking of
    every row whether an earlier one is pending costs a scan each."""
    urgent = case((OutboxMessage.priority == URGENT, OutboxMessage.id))
    return (
        select(func.coalesce(func.min(urgent), func.min(OutboxMessage.id)))
        .where(OutboxMessage.status == PENDING)
        .group_by(OutboxMessage.person_id, OutboxMessage.channel_id)
    )


def _among(ids: Select[tuple[int]], dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # `id = ANY(ARRAY(...))` runs the subquery once and looks each id up by key, whatever the
        # statistics say. As `IN (...)`, a freshly filled outbox (not yet analysed) was planned
        # as a nested loop that ran the subquery per row: seconds, and more rows than its LIMIT.
        return OutboxMessage.id == any_(func.array(ids.scalar_subquery()))
    return OutboxMessage.id.in_(ids.scalar_subquery())


@dataclass(frozen=True)
class Claim:
    """A message this sender holds until `claimed_until`, with what sending it needs."""

    id: int
    operation: str
    updates_id: int | None
    person_id: int | None
    channel_id: str | None
    purpose: str
    activity: str  # the JSON text `encode` stored: most messages are posted as they are
    attempts: int
    claimed_until: datetime


_CLAIMED = (
    OutboxMessage.id,
    OutboxMessage.operation,
    OutboxMessage.updates_id,
    OutboxMessage.person_id,
    OutboxMessage.channel_id,
    OutboxMessage.purpose,
    # As stored, not decoded: a card decoded only to be encoded again for Teams was a tenth of
    # the sender's work. PostgreSQL's json type keeps the text it was given.
    cast(OutboxMessage.activity, Text),
    OutboxMessage.attempts,
    OutboxMessage.claimed_until,
)


_CLAIM: dict[str, Any] = {}


def _claim(dialect: str) -> Any:
    """The batch claim, built once for the dialect in use."""
    if dialect not in _CLAIM:
        now = bindparam("c_now", type_=OutboxMessage.claimed_until.type)
        free = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)
        due = (
            select(OutboxMessage.id)
            .where(
                _among(_next_in_line(), dialect),
                OutboxMessage.status == PENDING,
                OutboxMessage.next_attempt_at <= now,
                free,
            )
            .order_by(OutboxMessage.id)
            .limit(bindparam("c_limit", type_=Integer))
            .with_for_update(skip_locked=True)
        )
        _CLAIM[dialect] = (
            update(OutboxMessage)
            .where(_among(due, dialect), OutboxMessage.status == PENDING, free)
            .values(claimed_until=bindparam("c_until", type_=OutboxMessage.claimed_until.type))
            .returning(*_CLAIMED)
            .execution_options(synchronize_session=False)
        )
    return _CLAIM[dialect]


async def claim_due(
    session: AsyncSession, *, now: datetime, lease: timedelta, limit: int = 50
) -> list[Claim]:
    """Claim up to `limit` messages that are due, each the next in line for its recipient.

    One UPDATE claims the whole batch. Its own conditions on status and lease are checked again
    on each row as it is written, so of two senders racing for a message only one gets it back;
    on PostgreSQL rows another sender is claiming at that moment are skipped rather than waited
    for (SQLite has one writer at a time, so the statement runs alone there).
    """
    values = {"c_now": now, "c_until": now + lease, "c_limit": limit}
    rows = (await session.execute(_claim(session.get_bind().dialect.name), values)).all()
    await session.commit()
    return sorted((Claim(*row) for row in rows), key=lambda claim: claim.id)


async def renew(session: AsyncSession, message_id: int, *, held: datetime | None, until: datetime) -> bool:
    """Extend this sender's claim just before sending; False if another sender has taken it over
    (the lease ran out while earlier messages of the sweep were being sent)."""
    renewed = await session.execute(_RENEW, {"r_id": message_id, "r_held": held, "r_until": until})
    await session.commit()
    return renewed.rowcount == 1


_RENEW = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id == bindparam("r_id"),
        OutboxMessage.status == PENDING,
        # Not `=`: a claim held without an end (None) must match too.
        OutboxMessage.claimed_until.is_not_distinct_from(
            bindparam("r_held", type_=OutboxMessage.claimed_until.type)
        ),
    )
    .values(claimed_until=bindparam("r_until", type_=OutboxMessage.claimed_until.type))
    .execution_options(synchronize_session=False)
)


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed message: sent, due again at `next_attempt_at`, or failed."""

    id: int
    status: str
    at: datetime
    error: str | None = None
    next_attempt_at: datetime | None = None
    count_attempt: bool = True
    activity_id: str | None = None
    conversation_id: str | None = None


_table = OutboxMessage.__table__
# What became of messages, each written for several at once.
_SENT = (
    update(_table)
    .where(_table.c.id == bindparam("b_id"), _table.c.status == PENDING)
    .values(
        status=SENT,
        sent_at=bindparam("b_at", type_=_table.c.sent_at.type),
        claimed_until=None,
        attempts=_table.c.attempts + 1,
        last_error=None,
        sent_activity_id=bindparam("b_activity_id"),
        sent_conversation_id=bindparam("b_conversation_id"),
    )
)
_RETRY = (
    update(_table)
    .where(_table.c.id == bindparam("b_id"), _table.c.status == PENDING)
    .values(
        next_attempt_at=bindparam("b_next", type_=_table.c.next_attempt_at.type),
        claimed_until=None,
        last_error=bindparam("b_error"),
        attempts=_table.c.attempts + bindparam("b_count", type_=Integer),
    )
)
_FAILED = (
    update(_table)
    .where(_table.c.id == bindparam("b_id"), _table.c.status == PENDING)
    .values(
        status=FAILED, claimed_until=None, last_error=bindparam("b_error"), attempts=_table.c.attempts + 1
    )
)


async def record(session: AsyncSession, outcomes: Sequence[Outcome]) -> None:
    """Write what became of several messages in one transaction, each row only its own result.

    A row already sent or failed is left as it is: a sender whose lease ran out mid-sweep must
    not overwrite what the sender that took the message over recorded.
    """
    sent = [
        {
            "b_id": o.id,
            "b_at": o.at,
            "b_activity_id": o.activity_id,
            "b_conversation_id": o.conversation_id,
        }
        for o in outcomes
        if o.status == SENT
    ]
    retry = [
        {
            "b_id": o.id,
            "b_next": o.next_attempt_at or o.at,
            "b_error": (o.error or "")[:400],
            "b_count": 1 if o.count_attempt else 0,
        }
        for o in outcomes
        if o.status == PENDING
    ]
    failed = [{"b_id": o.id, "b_error": (o.error or "")[:400]} for o in outcomes if o.status == FAILED]
    for statement, params in ((_SENT, sent), (_RETRY, retry), (_FAILED, failed)):
        if params:
            await session.execute(statement, params)
    await session.commit()


@dataclass(frozen=True)
class Waiting:
    """A message still waiting for its recipient, held by no sender: one more may gather into it."""

    id: int
    gathered: int


async def waiting_to_gather(
    session: AsyncSession, to: Recipient, *, purpose: str, record_type: str, record_id: int | str
) -> Waiting | None:
    """The newest message of `purpose` about a record still waiting for this recipient, if no
    sender holds it. Only the newest: every notification since it was queued went into it, so it
    carries the latest ones (an older one a sender let go of does not).

    Locked until the transaction ends (on PostgreSQL; SQLite has one writer at a time), so a
    sender skips it meanwhile and a second merge waits to build on what this one writes.
    """
    row = (
        await session.execute(
            select(OutboxMessage.id, OutboxMessage.gathered, OutboxMessage.claimed_until)
            .where(
                OutboxMessage.person_id == to.person_id
                if to.person_id is not None
                else OutboxMessage.channel_id == to.channel_id,
                OutboxMessage.purpose == purpose,
                OutboxMessage.record_type == record_type,
                OutboxMessage.record_id == str(record_id),
                OutboxMessage.operation == "send",
                OutboxMessage.status == PENDING,
            )
            .order_by(OutboxMessage.id.desc())
            .limit(1)
            .with_for_update()
        )
    ).first()
    return None if row is None or row.claimed_until is not None else Waiting(row.id, row.gathered)


_GATHER = (
    update(_table)
    # Only while no sender holds it: a claimed message may be on its way to Teams as it was.
    .where(_table.c.id == bindparam("g_id"), _table.c.status == PENDING, _table.c.claimed_until.is_(None))
    .values(activity=bindparam("g_activity", type_=_Encoded()), gathered=bindparam("g_gathered"))
)


async def gather(session: AsyncSession, message_id: int, activity: dict[str, Any], *, gathered: int) -> bool:
    """Make a waiting message show `activity`, which now carries `gathered` notifications; False if
    a sender claimed it first (then queue a message of its own instead)."""
    params = {"g_id": message_id, "g_activity": encode(activity), "g_gathered": gathered}
    return (await session.execute(_GATHER, params)).rowcount == 1


@dataclass(frozen=True)
class Root:
    """The earlier message an update replaces or a reply answers, as far as sending needs it."""

    status: str
    sent_activity_id: str | None
    sent_conversation_id: str | None


async def roots(session: AsyncSession, ids: Collection[int]) -> dict[int, Root]:
    if not ids:
        return {}
    rows = await session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.status,
            OutboxMessage.sent_activity_id,
            OutboxMessage.sent_conversation_id,
        ).where(OutboxMessage.id.in_(ids))
    )
    return {row.id: Root(row.status, row.sent_activity_id, row.sent_conversation_id) for row in rows}


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


@dataclass(frozen=True)
class Copy:
    """A message sent about a record, as far as replacing what it showed needs it."""

    id: int
    person_id: int | None
    status: str


_COPIES = (
    select(OutboxMessage.id, OutboxMessage.person_id, OutboxMessage.status)
    .where(
        OutboxMessage.record_type == bindparam("record_type"),
        OutboxMessage.record_id == bindparam("record_id"),
        OutboxMessage.purpose == bindparam("purpose"),
        OutboxMessage.operation == "send",
    )
    .order_by(OutboxMessage.id)
)


async def copies(
    session: AsyncSession, record_type: str, record_id: int | str, *, purpose: str
) -> list[Copy]:
    """`for_record`'s messages without their activities: a card's JSON is not decoded to learn
    only who it went to."""
    params = {"record_type": record_type, "record_id": str(record_id), "purpose": purpose}
    return [Copy(*row) for row in await session.execute(_COPIES, params)]


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
