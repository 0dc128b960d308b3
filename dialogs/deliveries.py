"""Notifications that could not be delivered are shown to the register keepers, never dropped."""

import re
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cards.elements import bullets, card, facts, heading, text
from cards.formatting import local_time
from dialogs import review_channel
from dialogs.commands import command, role_labels
from dialogs.notify import card_message, tell_keepers
from dialogs.turn import Actor, Reply, Services
from policy.roles import Roles
from storage import audit, decisions, outbox, people
from storage.models import OutboxMessage

FAILED_PURPOSE = "delivery.failed"


async def notify_failed(session: AsyncSession, message: OutboxMessage, now: datetime) -> None:
    """Tell the register keepers (other than the recipient) that a message failed for good."""
    if message.purpose == FAILED_PURPOSE:
        return  # a notice about a failure that itself fails is in the list below, not re-sent
    if message.last_error == review_channel.WITHHELD:
        return  # not a failure of Teams: sent to the group's chats, and the keepers were told
    recipient = await decisions.name_of(session, message.person_id) if message.person_id else "a channel"
    notice = card(
        [
            heading("A notification could not be delivered", size="Medium", color="Attention"),
            facts(
                [
                    ("To", recipient),
                    ("About", f"{message.purpose} ({message.record_type} {message.record_id})"),
                    ("Why", message.last_error),
                ]
            ),
            text(
                "Teams refused it for good (the person may have left, or removed the app). "
                "Please make sure the matter reaches someone. Type **undelivered** to see all.",
                subtle=True,
            ),
        ]
    )
    await tell_keepers(
        session,
        card_message(notice, summary="A notification could not be delivered"),
        purpose=FAILED_PURPOSE,
        now=now,
        record_type="outbox",
        record_id=message.id,
        dedupe=f"failed:{message.id}",
        besides=message.person_id,
    )


def _keepers_only(roles: Roles) -> bool:
    return roles.is_register_keeper


@command(
    r"undelivered",
    "undelivered",
    "notifications that failed or wait for someone to open the bot",
    phrases=("failed notifications", "undelivered notifications", "outbox"),
    button="Undelivered",
    allowed=_keepers_only,
    private=True,
)
async def _undelivered(services: Services, actor: Actor, _match: re.Match[str]) -> list[Reply]:
    async with services.sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(
                    or_(
                        OutboxMessage.status == outbox.FAILED,
                        (OutboxMessage.status == outbox.PENDING) & (OutboxMessage.last_error.is_not(None)),
                    )
                )
                .order_by(OutboxMessage.id.desc())
                .limit(30)
            )
        ).all()
        lines = [
            f"{'Failed' if m.status == outbox.FAILED else 'Waiting'} · {m.purpose} · to "
            f"{await decisions.name_of(session, m.person_id) if m.person_id else 'a channel'} · "
            f"queued {local_time(m.created_at, services.zone)} · {m.last_error}"
            for m in rows
        ]
    body = [heading("Undelivered notifications", size="Medium")]
    body.append(bullets(lines) if lines else text("Everything has been delivered."))
    return [Reply(card=card(body), summary="Undelivered notifications")]


@command(
    r"unreachable",
    "unreachable",
    "who holds a role but cannot be reached yet (never opened the bot, nor shares a team with it)",
    allowed=_keepers_only,
    private=True,
)
async def _unreachable(services: Services, actor: Actor, _match: re.Match[str]) -> list[Reply]:
    now = services.clock()
    async with services.sessions() as session:
        found = await people.unreachable(session, role_holders_only=True)
        roles = await people.roles_of(session, [p.person_id for p in found])
        lines = [
            f"{p.display_name or p.email or p.upn or 'Not yet signed in'} · "
            + ", ".join(role_labels(roles[p.person_id])[1:])
            for p in found
        ]
        if found:
            # Names and roles of staff: a read of the register, recorded as one.
            await audit.record(
                session,
                now=now,
                actor_id=actor.person_id,
                action="people.unreachable_viewed",
                record_type="person",
                detail={"people": [p.person_id for p in found]},
            )
            await session.commit()
    body = [heading("Who cannot be reached yet", size="Medium")]
    if not lines:
        body.append(text("Everyone who holds a role can be reached."))
        return [Reply(card=card(body), summary="Who cannot be reached yet")]
    body += [
        text(
            "They hold a role but have never opened the bot, and share no team with it, so their "
            "notifications wait. Install the app for them (Teams admin centre, setup policy), or "
            "add the app to a team they belong to.",
            subtle=True,
        ),
        bullets(lines),
    ]
    return [Reply(card=card(body), summary="Who cannot be reached yet")]
