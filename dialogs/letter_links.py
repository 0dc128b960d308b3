"""A letter's link and fate, from a card a manager or hearing body pressed: a short-lived link
to download it, then *sent* (date, method) or *not appropriate to explain* (why), once."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.turn import Services
from policy.decisions import LETTER_METHODS, LetterFormat, format_note
from storage import audit, decisions
from storage.models import Customer, Letter


@dataclass(frozen=True)
class Issued:
    url: str
    large: bool
    note: str | None  # what whoever sends must arrange: the customer's format or language


async def issue_link(
    session: AsyncSession, services: Services, actor_id: int, letter_id: int, *, large: bool
) -> Issued | None:
    """A 15-minute link to the letter for this person, in large print where asked or where the
    customer prefers it; issuing it is audited. None when the bot has no public address to link to."""
    if services.links is None:
        return None
    now = services.clock()
    customer = await session.scalar(
        select(Customer).join(Letter, Letter.customer_id == Customer.id).where(Letter.id == letter_id)
    )
    note = None
    if customer is not None:
        large = large or customer.letter_format == LetterFormat.LARGE_PRINT.value
        note = format_note(customer.letter_format, customer.letter_format_detail, customer.language)
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
    return Issued(url, large, note)


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
