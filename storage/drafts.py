"""Report dialogs in progress. Kept 24 hours for the reporter to come back to, then deleted."""

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ReportDraft

KEPT_FOR = timedelta(hours=24)


def start(
    session: AsyncSession, person_id: int, *, step: str, values: dict[str, Any], now: datetime
) -> ReportDraft:
    draft = ReportDraft(
        token=secrets.token_urlsafe(24),
        person_id=person_id,
        step=step,
        values=values,
        created_at=now,
        updated_at=now,
        expires_at=now + KEPT_FOR,
    )
    session.add(draft)
    return draft


async def owned(session: AsyncSession, token: str, person_id: int, *, now: datetime) -> ReportDraft | None:
    """The draft behind a dialog's token, if it is this person's and still kept."""
    if not isinstance(token, str) or len(token) > 64:
        return None
    return await session.scalar(
        select(ReportDraft).where(
            ReportDraft.token == token,
            ReportDraft.person_id == person_id,
            ReportDraft.expires_at > now,
        )
    )


async def latest(session: AsyncSession, person_id: int, *, now: datetime) -> ReportDraft | None:
    return await session.scalar(
        select(ReportDraft)
        .where(ReportDraft.person_id == person_id, ReportDraft.expires_at > now)
        .order_by(ReportDraft.updated_at.desc(), ReportDraft.id.desc())
        .limit(1)
    )


def save(draft: ReportDraft, *, step: str, values: dict[str, Any], now: datetime) -> None:
    draft.step = step
    draft.values = values  # a new dict, so the JSON column sees the change
    draft.updated_at = now
    draft.expires_at = now + KEPT_FOR


async def discard_for(session: AsyncSession, person_id: int) -> None:
    await session.execute(delete(ReportDraft).where(ReportDraft.person_id == person_id))


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    """Drafts hold personal data that never reached the register: none outlives its 24 hours."""
    result = await session.execute(delete(ReportDraft).where(ReportDraft.expires_at <= now))
    return result.rowcount or 0
