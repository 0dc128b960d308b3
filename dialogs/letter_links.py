"""Issuing a short-lived link to a letter, from a card a manager or hearing body pressed."""

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.turn import Services
from storage import audit


async def issue_link(
    session: AsyncSession, services: Services, actor_id: int, letter_id: int, *, large: bool
) -> str | None:
    """A 15-minute link to the letter for this person; issuing it is audited. None when the bot
    has no public address to link to."""
    if services.links is None:
        return None
    now = services.clock()
    url = services.links.url(letter_id, actor_id, large_print=large, now=now)
    await audit.record(
        session,
        now=now,
        actor_id=actor_id,
        action="letter.link_issued",
        record_type="letter",
        record_id=letter_id,
        detail={"large_print": large},
    )
    await session.commit()
    return url
