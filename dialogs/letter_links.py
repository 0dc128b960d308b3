"""A letter's link and fate, from a card a manager or hearing body pressed: a short-lived link
to download it, then *sent* (date, method) or *not appropriate to explain* (why), once."""

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.turn import Services
from policy.decisions import LETTER_METHODS
from storage import audit, decisions
from storage.models import Letter


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


async def record_fate(
    session: AsyncSession,
    services: Services,
    actor_id: int,
    letter: Letter,
    data: Mapping[str, Any],
    *,
    sent: bool,
) -> dict[str, str]:
    """Record that the letter was sent, or why it is not appropriate to explain; the problems with
    what the card sent, if any (then nothing is recorded)."""
    now = services.clock()
    if sent:
        errors: dict[str, str] = {}
        sent_on: date | None = None
        try:
            sent_on = date.fromisoformat(str(data.get("sent_on", "")))
        except ValueError:
            errors["sent_on"] = "Enter the date it was sent, like 2026-11-23"
        produced = letter.produced_at.astimezone(services.zone).date()
        if sent_on is not None and not produced <= sent_on <= services.today():
            errors["sent_on"] = "The date must be between the decision and today"
        method = data.get("method")
        if not isinstance(method, str) or method not in LETTER_METHODS:
            errors["method"] = "Choose how it was sent"
        if errors:
            return errors
        await decisions.record_letter_outcome(
            session, letter.id, by=actor_id, now=now, sent_on=sent_on, method=str(method)
        )
        action, detail = (
            "letter.sent",
            {"sent_on": sent_on.isoformat() if sent_on else None, "method": method},
        )
    else:
        reason = data.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            return {"reason": "Record why it is not appropriate to explain"}
        await decisions.record_letter_outcome(
            session, letter.id, by=actor_id, now=now, not_appropriate_reason=reason.strip()[:2000]
        )
        action, detail = "letter.not_appropriate", {}
    await audit.record(
        session,
        now=now,
        actor_id=actor_id,
        action=action,
        record_type="letter",
        record_id=letter.id,
        detail=detail,
    )
    return {}
