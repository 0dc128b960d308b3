"""Refusals are part of the trail: someone asking for what their roles do not allow is worth a
register keeper's notice, whether it came from a stale card, a mistake or a forged request."""

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.turn import Actor, Services
from storage import audit

ACTION = "access.refused"


async def record(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    attempted: str,
    *,
    record_type: str = "none",
    record_id: int | str | None = None,
) -> None:
    """Add the refusal to the audit trail and commit it, with nothing else.

    `attempted` is the verb or command asked for: never free text, which may carry personal data.
    Refusals come before anything is written, so the commit carries the refusal alone.
    """
    await audit.record(
        session,
        now=services.clock(),
        actor_id=actor.person_id,
        action=ACTION,
        record_type=record_type,
        record_id=record_id,
        detail={"attempted": attempted[:80]},
    )
    await session.commit()


async def record_alone(
    services: Services,
    actor: Actor,
    attempted: str,
    *,
    record_type: str = "none",
    record_id: int | str | None = None,
) -> None:
    """The same, in a session of its own, for refusals made before any session was opened."""
    async with services.sessions() as session:
        await record(session, services, actor, attempted, record_type=record_type, record_id=record_id)
