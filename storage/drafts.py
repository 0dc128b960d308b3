"""Report dialogs in progress. Kept 24 hours for the reporter to come back to, then deleted."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.incidents import Area
from storage.models import ReportDraft, ServiceArea

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


@dataclass(frozen=True)
class Held:
    """A draft read for sending, outside the session's identity map (the Send deletes it with
    `remove`); with the service area its values name, if the register has one by that key."""

    id: int
    token: str
    step: str
    values: dict[str, Any]
    area: Area | None


def _of_named_area(column: Any) -> Any:
    named = ReportDraft.values["service_area"].as_string()
    return select(column).where(ServiceArea.key == named).correlate(ReportDraft).scalar_subquery()


_HELD = select(
    ReportDraft.id,
    ReportDraft.token,
    ReportDraft.step,
    ReportDraft.values,
    # The area, looked up in the same statement: a Send checks it and names it on the cards.
    _of_named_area(ServiceArea.id),
    _of_named_area(ServiceArea.key),
    _of_named_area(ServiceArea.name),
).where(
    ReportDraft.token == bindparam("token"),
    ReportDraft.person_id == bindparam("person_id"),
    ReportDraft.expires_at > bindparam("now"),
)


async def held(session: AsyncSession, token: str, person_id: int, *, now: datetime) -> Held | None:
    """What the draft `owned` would find holds, with its service area, for a Send to check and
    store. Reading it writes nothing."""
    if not isinstance(token, str) or len(token) > 64:
        return None
    found = (await session.execute(_HELD, {"token": token, "person_id": person_id, "now": now})).all()
    if not found:
        return None
    draft_id, token, step, values, area_id, area_key, area_name = found[0]
    area = Area(area_id, area_key, area_name) if area_id is not None else None
    return Held(draft_id, token, step, values, area)


async def remove(session: AsyncSession, draft: Held) -> None:
    """A sent draft goes: a Send that raced another for the same draft loses on the incident's
    submission key instead."""
    await session.execute(delete(ReportDraft).where(ReportDraft.id == draft.id))


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
