"""Notifications as the outbox stores them: Bot Framework activity JSON, built without the SDK."""

from typing import Any

from cards.elements import Card
from dialogs.turn import Reply

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
