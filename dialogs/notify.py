"""Notifications as the outbox stores them: Bot Framework activity JSON, built without the SDK."""

from typing import Any

from cards.elements import Card

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def card_message(card: Card, *, summary: str) -> dict[str, Any]:
    """A message carrying one Adaptive Card; `summary` is the preview in Teams' notifications."""
    return {
        "type": "message",
        "summary": summary,
        "attachments": [{"contentType": ADAPTIVE_CARD, "content": card}],
    }
