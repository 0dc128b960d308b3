"""Saved conversation references: where the bot can reach a person or a channel later."""

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConversationRef, OutboxMessage


@dataclass(frozen=True)
class Where:
    """A conversation as the activity that arrived in it describes it."""

    conversation_type: str  # personal, channel or groupChat, as Teams says
    conversation_id: str
    service_url: str
    bot_id: str
    tenant_id: str | None = None
    user_id: str | None = None
    channel_id: str | None = None
    team_id: str | None = None


def as_saved(where: Where) -> Where:
    """The reference as `save` stores it: the user only for a personal chat."""
    if where.conversation_type == "personal" or where.user_id is None:
        return where
    return replace(where, user_id=None)


def is_current(saved: Where | None, saved_person_id: int | None, where: Where, person_id: int) -> bool:
    """True when saving `where` for this person would change nothing the register holds."""
    personal = where.conversation_type == "personal"
    return (
        saved is not None
        and saved == as_saved(where)
        and saved_person_id == (person_id if personal else None)
    )


async def save(
    session: AsyncSession, where: Where, *, person_id: int | None, now: datetime
) -> tuple[ConversationRef, bool]:
    """Insert or refresh the reference; True when the bot had no way to reach it before."""
    ref = await session.scalar(
        select(ConversationRef).where(ConversationRef.conversation_id == where.conversation_id)
    )
    created = ref is None
    if ref is None:
        ref = ConversationRef(conversation_id=where.conversation_id)
        session.add(ref)
    ref.kind = where.conversation_type
    ref.service_url = where.service_url
    ref.bot_id = where.bot_id
    ref.tenant_id = where.tenant_id
    ref.user_id = where.user_id if where.conversation_type == "personal" else None
    ref.person_id = person_id if where.conversation_type == "personal" else None
    ref.channel_id = where.channel_id
    ref.team_id = where.team_id
    ref.updated_at = now
    await session.flush()
    if created:
        await _wake_waiting(session, person_id=ref.person_id, channel_id=ref.channel_id, now=now)
    return ref, created


async def _wake_waiting(
    session: AsyncSession, *, person_id: int | None, channel_id: str | None, now: datetime
) -> None:
    """Notifications held for want of a conversation can go now."""
    if person_id is not None:
        target = OutboxMessage.person_id == person_id
    elif channel_id is not None:
        target = OutboxMessage.channel_id == channel_id
    else:
        return
    await session.execute(
        update(OutboxMessage).where(target, OutboxMessage.status == "pending").values(next_attempt_at=now)
    )


async def latest_for(
    session: AsyncSession, *, person_ids: Collection[int], channel_ids: Collection[str]
) -> tuple[dict[int, ConversationRef], dict[str, ConversationRef]]:
    """Each person's latest 1:1 chat and each channel's latest reference, one query for each kind."""
    people: dict[int, ConversationRef] = {}
    channels: dict[str, ConversationRef] = {}
    newest_last = (ConversationRef.updated_at, ConversationRef.id)
    if person_ids:
        for ref in await session.scalars(
            select(ConversationRef)
            .where(ConversationRef.person_id.in_(person_ids), ConversationRef.kind == "personal")
            .order_by(*newest_last)
        ):
            people[ref.person_id or 0] = ref
    if channel_ids:
        for ref in await session.scalars(
            select(ConversationRef).where(ConversationRef.channel_id.in_(channel_ids)).order_by(*newest_last)
        ):
            channels[ref.channel_id or ""] = ref
    return people, channels


@dataclass(frozen=True)
class Team:
    """A team the bot is in, as its latest saved channel reference describes it."""

    team_id: str
    service_url: str
    bot_id: str
    tenant_id: str | None


async def teams(session: AsyncSession) -> list[Team]:
    """Every team the bot has been added to (or spoken in), each once."""
    found: dict[str, Team] = {}
    rows = await session.scalars(
        select(ConversationRef)
        .where(ConversationRef.team_id.is_not(None))
        .order_by(ConversationRef.updated_at, ConversationRef.id)
    )
    for ref in rows:
        found[ref.team_id or ""] = Team(ref.team_id or "", ref.service_url, ref.bot_id, ref.tenant_id)
    return list(found.values())


async def team_of_channel(session: AsyncSession, channel_id: str) -> Team | None:
    """The team of a channel the bot has saved a reference for, to ask for its roster."""
    ref = await session.scalar(
        select(ConversationRef)
        .where(ConversationRef.conversation_id == channel_id, ConversationRef.team_id.is_not(None))
        .order_by(ConversationRef.updated_at.desc())
        .limit(1)
    )
    return Team(ref.team_id or "", ref.service_url, ref.bot_id, ref.tenant_id) if ref else None


async def any_service_url(session: AsyncSession) -> tuple[str, str, str | None] | None:
    """The service URL, bot id and tenant of the latest saved conversation: Teams' region for
    this tenant, where a chat found through Graph is reached."""
    ref = await session.scalar(
        select(ConversationRef)
        .order_by(ConversationRef.updated_at.desc(), ConversationRef.id.desc())
        .limit(1)
    )
    return (ref.service_url, ref.bot_id, ref.tenant_id) if ref else None
