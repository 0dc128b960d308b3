"""Notifications as the outbox stores them: Bot Framework activity JSON, built without the SDK."""

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cards.elements import Card
from dialogs.turn import Reply
from policy.roles import Role
from storage import outbox, people

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def card_message(card: Card, *, summary: str) -> dict[str, Any]:
    """A message carrying one Adaptive Card; `summary` is the preview in Teams' notifications."""
    return {
        "type": "message",
        "summary": summary,
        "attachments": [{"contentType": ADAPTIVE_CARD, "content": card}],
    }


def reply_message(reply: Reply) -> dict[str, Any]:
    """A dialog's reply as the outbox stores it, to send later rather than answer now."""
    if reply.card is None:
        return {"type": "message", "text": reply.text or ""}
    message = card_message(reply.card, summary=reply.summary or "My answer")
    if reply.text:
        message["text"] = reply.text
    return message


async def tell_keepers(
    session: AsyncSession,
    message: dict[str, Any],
    *,
    purpose: str,
    now: datetime,
    record_type: str,
    record_id: int | str | None,
    dedupe: str,
    besides: int | None = None,
) -> None:
    """Queue `message` to every register keeper (but `besides`, a person it is about), in the
    caller's transaction; `dedupe` keeps one copy each of what is told again."""
    for keeper in await people.with_role(session, Role.REGISTER_KEEPER):
        if keeper.id == besides:
            continue
        outbox.enqueue(
            session,
            outbox.Recipient(person_id=keeper.id),
            message,
            purpose=purpose,
            now=now,
            record_type=record_type,
            record_id=record_id,
            dedupe_key=f"{dedupe}:{keeper.id}",
        )
