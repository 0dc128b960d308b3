"""Refusals are part of the trail: someone asking for what their roles do not allow is worth a
register keeper's notice, whether it came from a stale card, a mistake or a forged request."""

import re
from types import ModuleType

from sqlalchemy.ext.asyncio import AsyncSession

from cards import appeal, decision, elements, records, report, review
from dialogs.turn import Actor, Services
from storage import audit

ACTION = "access.refused"
# What a refusal records when what was asked for is not a verb or command this bot has: a forged
# verb is free text, and the trail is kept for years, never anonymised, so it must hold none.
UNKNOWN = "unknown"

_VERB = re.compile(r"[a-z_]+\.[a-z_]+")


def _verbs(*modules: ModuleType) -> set[str]:
    """Every card verb the bot's cards name: the modules' upper-case constants shaped as verbs."""
    return {
        value
        for module in modules
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and _VERB.fullmatch(value)
    }


# Commands add their names as they are registered (dialogs.commands.command).
_KNOWN: set[str] = _verbs(appeal, decision, elements, records, report, review)


def know(*names: str) -> None:
    """Add names from the bot's own code (never from a request) to what a refusal may record."""
    _KNOWN.update(names)


def attempted_name(attempted: str) -> str:
    """`attempted` if the bot has such a verb or command, else `UNKNOWN`."""
    return attempted if attempted in _KNOWN else UNKNOWN


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

    `attempted` is the verb or command asked for, as the request named it: only a name the bot
    knows is kept. Refusals come before anything is written, so the commit carries the refusal alone.
    """
    await audit.record(
        session,
        now=services.clock(),
        actor_id=actor.person_id,
        action=ACTION,
        record_type=record_type,
        record_id=record_id,
        detail={"attempted": attempted_name(attempted)},
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
