"""What the workspace tab reads: each role's queue, and the register searched and filtered.

Queries only; who may see what is decided by the caller (`dialogs.workspace`) from the one table of
rules. Every queue is bounded (`LIMIT`) and counted apart, so a page costs the same on a register
of a hundred thousand customers as on one of a hundred.
"""

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from policy.decisions import LetterKind, RestrictionStatus
from policy.incidents import IncidentStatus
from storage.models import (
    Appeal,
    Customer,
    Decision,
    Incident,
    Letter,
    OutboxMessage,
    Person,
    Restriction,
    ServiceArea,
)

LIMIT = 50  # rows a queue or a page of the register shows; the count says how many in all
ESCALATED = "escalated"


COUNT_CAP = 1000  # beyond this a count says "1,000 or more": counting 300,000 rows helps nobody


@dataclass(frozen=True)
class Listed:
    """Up to LIMIT rows, and how many there are in all (at most COUNT_CAP: then `capped`)."""

    rows: list[Any]
    total: int
    capped: bool = False


async def _listed(
    session: AsyncSession, query: Select[Any], *, limit: int = LIMIT, offset: int = 0
) -> Listed:
    rows = (await session.execute(query.limit(limit).offset(offset))).all()
    if offset == 0 and len(rows) < limit:
        return Listed(list(rows), len(rows))
    bounded = query.order_by(None).limit(COUNT_CAP + 1).subquery()
    total = await session.scalar(select(func.count()).select_from(bounded)) or 0
    return Listed(list(rows), min(total, COUNT_CAP), capped=total > COUNT_CAP)


# --- incidents --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentRow:
    id: int
    reference: str
    occurred_at: datetime
    reported_at: datetime
    category: str
    status: str
    area_name: str
    customer_id: int
    customer_name: str
    anonymised: bool


def _incident_rows() -> Select[Any]:
    return (
        select(
            Incident.id,
            Incident.reference,
            Incident.occurred_at,
            Incident.reported_at,
            Incident.category,
            Incident.status,
            ServiceArea.name,
            Customer.id,
            Customer.name,
            Customer.anonymised_at.is_not(None),
        )
        .join(ServiceArea, ServiceArea.id == Incident.service_area_id)
        .join(Customer, Customer.id == Incident.customer_id)
    )


def _as_incidents(listed: Listed) -> Listed:
    return Listed([IncidentRow(*row) for row in listed.rows], listed.total, listed.capped)


async def reported_by(session: AsyncSession, person_id: int) -> Listed:
    """The incidents a person reported, newest first (their own queue: no customer is shown)."""
    query = (
        _incident_rows()
        .where(Incident.reporter_id == person_id)
        .order_by(Incident.reported_at.desc(), Incident.id.desc())
    )
    return _as_incidents(await _listed(session, query))


async def undecided(
    session: AsyncSession, *, area_keys: Collection[str] | None, not_reported_by: int | None = None
) -> Listed:
    """Incidents waiting for a decision, oldest first: in these service areas (None: all)."""
    query = _incident_rows().where(Incident.status == IncidentStatus.REPORTED.value)
    if area_keys is not None:
        query = query.where(ServiceArea.key.in_(list(area_keys)))
    if not_reported_by is not None:
        query = query.where(Incident.reporter_id != not_reported_by)
    return _as_incidents(await _listed(session, query.order_by(Incident.reported_at, Incident.id)))


# --- letters and follow-ups ------------------------------------------------------------------


@dataclass(frozen=True)
class LetterRow:
    id: int
    kind: str
    produced_at: datetime
    incident_id: int
    reference: str
    customer_name: str


async def letters_waiting(
    session: AsyncSession, *, area_keys: Collection[str] | None, not_reported_by: int | None = None
) -> Listed:
    """Decision letters neither recorded as sent nor as not appropriate, oldest first."""
    query = (
        select(Letter.id, Letter.kind, Letter.produced_at, Incident.id, Incident.reference, Customer.name)
        .join(Decision, Decision.id == Letter.decision_id)
        .join(Incident, Incident.id == Decision.incident_id)
        .join(ServiceArea, ServiceArea.id == Incident.service_area_id)
        .join(Customer, Customer.id == Letter.customer_id)
        .where(
            Letter.sent_on.is_(None),
            Letter.not_appropriate_reason.is_(None),
            Letter.kind != LetterKind.APPEAL_OUTCOME.value,
            Customer.anonymised_at.is_(None),
        )
        .order_by(Letter.produced_at, Letter.id)
    )
    if area_keys is not None:
        query = query.where(ServiceArea.key.in_(list(area_keys)))
    if not_reported_by is not None:
        query = query.where(Incident.reporter_id != not_reported_by)
    listed = await _listed(session, query)
    return Listed([LetterRow(*row) for row in listed.rows], listed.total)


@dataclass(frozen=True)
class FollowUpRow:
    decision_id: int
    follow_up_on: date
    incident_id: int
    reference: str


async def follow_ups(session: AsyncSession, person_id: int, *, today: date, ahead_days: int = 14) -> Listed:
    """Follow-ups the person set in a restorative approach, from the last month to two weeks ahead."""
    query = (
        select(Decision.id, Decision.follow_up_on, Incident.id, Incident.reference)
        .join(Incident, Incident.id == Decision.incident_id)
        .where(
            Decision.decided_by_id == person_id,
            Decision.follow_up_on.is_not(None),
            Decision.follow_up_on >= today - timedelta(days=31),
            Decision.follow_up_on <= today + timedelta(days=ahead_days),
        )
        .order_by(Decision.follow_up_on, Decision.id)
    )
    listed = await _listed(session, query)
    return Listed([FollowUpRow(*row) for row in listed.rows], listed.total)


# --- restrictions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RestrictionRow:
    id: int
    type: str
    review_due_on: date | None
    reminder_stage: str | None
    no_review_reason: str | None
    incident_id: int
    reference: str
    customer_name: str
    area_name: str
    reviewer_name: str | None


def _restriction_rows() -> Select[Any]:
    reviewer = aliased(Person)
    return (
        select(
            Restriction.id,
            Restriction.type,
            Restriction.review_due_on,
            Restriction.reminder_stage,
            Restriction.no_review_reason,
            Incident.id,
            Incident.reference,
            Customer.name,
            ServiceArea.name,
            reviewer.display_name,
        )
        .join(Decision, Decision.id == Restriction.decision_id)
        .join(Incident, Incident.id == Decision.incident_id)
        .join(Customer, Customer.id == Restriction.customer_id)
        .join(ServiceArea, ServiceArea.id == Restriction.service_area_id)
        .outerjoin(reviewer, reviewer.id == Restriction.reviewer_id)
        .where(Restriction.status == RestrictionStatus.ACTIVE.value)
    )


def _as_restrictions(listed: Listed) -> Listed:
    return Listed([RestrictionRow(*row) for row in listed.rows], listed.total, listed.capped)


async def reviews_due(
    session: AsyncSession, *, reviewer_id: int | None, until: date, before: date | None = None
) -> Listed:
    """Active restrictions whose review falls due by `until` (and before `before`, if given):
    the person's own, or everyone's (None), soonest first."""
    query = _restriction_rows().where(
        Restriction.review_due_on.is_not(None), Restriction.review_due_on <= until
    )
    if before is not None:
        query = query.where(Restriction.review_due_on < before)
    if reviewer_id is not None:
        query = query.where(Restriction.reviewer_id == reviewer_id)
    return _as_restrictions(await _listed(session, query.order_by(Restriction.review_due_on, Restriction.id)))


async def reviews_escalated(session: AsyncSession, *, reviewer_id: int | None) -> Listed:
    query = _restriction_rows().where(Restriction.reminder_stage == ESCALATED)
    if reviewer_id is not None:
        query = query.where(Restriction.reviewer_id == reviewer_id)
    return _as_restrictions(await _listed(session, query.order_by(Restriction.review_due_on, Restriction.id)))


async def no_review(session: AsyncSession) -> Listed:
    """Restrictions in force with no review date, each with its documented reason."""
    query = _restriction_rows().where(Restriction.review_due_on.is_(None))
    return _as_restrictions(await _listed(session, query.order_by(Restriction.starts_on, Restriction.id)))


async def restrictions_by_service(session: AsyncSession) -> list[tuple[str, int]]:
    rows = await session.execute(
        select(ServiceArea.name, func.count(Restriction.id))
        .join(Restriction, Restriction.service_area_id == ServiceArea.id)
        .where(Restriction.status == RestrictionStatus.ACTIVE.value)
        .group_by(ServiceArea.name)
        .order_by(ServiceArea.name)
    )
    return [(name, count) for name, count in rows.all()]


# --- appeals -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppealRow:
    id: int
    route: str
    received_on: date
    logged_at: datetime
    incident_id: int
    reference: str
    customer_name: str
    respond_by: date | None  # the outcome's due day, as the appeal was logged (its stage's, or the target)
    stage: int | None  # of the complaints handling procedure


async def open_appeals(session: AsyncSession, *, routes: Collection[str] | None) -> list[AppealRow]:
    """Open appeals on these routes (None: every route), oldest first. Unbounded by LIMIT: the
    caller orders them by deadline, which is counted in working days here in Python."""
    query = (
        select(
            Appeal.id,
            Appeal.route,
            Appeal.received_on,
            Appeal.logged_at,
            Incident.id,
            Incident.reference,
            Customer.name,
            Appeal.respond_by,
            Appeal.stage,
        )
        .join(Incident, Incident.id == Appeal.incident_id)
        .join(Customer, Customer.id == Incident.customer_id)
        .where(Appeal.status == "open")
        .order_by(Appeal.logged_at, Appeal.id)
        .limit(1000)
    )
    if routes is not None:
        query = query.where(Appeal.route.in_(list(routes)))
    return [AppealRow(*row) for row in (await session.execute(query)).all()]


# --- notifications ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UndeliveredRow:
    id: int
    purpose: str
    record_type: str | None
    record_id: str | None
    created_at: datetime
    attempts: int
    last_error: str | None
    recipient: str | None


async def undelivered(session: AsyncSession) -> Listed:
    query = (
        select(
            OutboxMessage.id,
            OutboxMessage.purpose,
            OutboxMessage.record_type,
            OutboxMessage.record_id,
            OutboxMessage.created_at,
            OutboxMessage.attempts,
            OutboxMessage.last_error,
            func.coalesce(Person.display_name, Person.email, OutboxMessage.channel_id),
        )
        .outerjoin(Person, Person.id == OutboxMessage.person_id)
        .where(OutboxMessage.status == "failed")
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    )
    listed = await _listed(session, query)
    return Listed([UndeliveredRow(*row) for row in listed.rows], listed.total)


# --- the register ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the register is searched for: words of a name, a reference (customer's or incident's),
    a postcode or email; and the incidents' service, category, state and dates."""

    query: str = ""
    service: str = ""  # a service area's key
    category: str = ""
    state: str = ""
    since: date | None = None
    until: date | None = None


def _pattern(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _postcodes(text: str) -> list[str]:
    """A postcode as the register stores it (upper case, as typed), with and without its space."""
    folded = "".join(text.upper().split())
    return list({text.upper().strip(), folded, f"{folded[:-3]} {folded[-3:]}" if len(folded) > 4 else folded})


def _customers_matching(text: str) -> Select[Any]:
    """The identifiable customers `text` names: by an identifier (a word with a digit or an @:
    their reference, email or postcode, exactly, each found by its index) or by the words of
    their name (a scan of names, in any case)."""
    query = select(Customer.id).where(Customer.anonymised_at.is_(None))
    if re.search(r"[\d@]", text):
        stripped = text.strip()
        return query.where(
            or_(
                Customer.customer_reference.in_([stripped, stripped.upper()]),
                Customer.email == stripped.lower(),
                Customer.postcode.in_(_postcodes(stripped)),
            )
        )
    words = text.split()[:6]
    return query.where(and_(*(Customer.name.ilike(_pattern(w), escape="\\") for w in words)))


def _area_ids(keys: Collection[str]) -> Select[Any]:
    return select(ServiceArea.id).where(ServiceArea.key.in_(list(keys)))


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, zone).astimezone(UTC)


async def search(
    session: AsyncSession,
    filters: Filters,
    *,
    zone: ZoneInfo,
    area_keys: Collection[str] | None,
    not_reported_by: int | None = None,
    offset: int = 0,
) -> Listed:
    """Incidents in the register matching the filters, newest first, within these service areas
    (None: all). Anonymised customers are found by incident reference only."""
    query = _incident_rows()
    text = filters.query.strip()
    if re.fullmatch(r"INC-\d{4}-\d{5}", text.upper()):
        query = query.where(Incident.reference == text.upper())
    elif text:
        query = query.where(Incident.customer_id.in_(_customers_matching(text)))
    if area_keys is not None:
        query = query.where(Incident.service_area_id.in_(_area_ids(area_keys)))
    if not_reported_by is not None:
        query = query.where(Incident.reporter_id != not_reported_by)
    if filters.service:
        query = query.where(Incident.service_area_id.in_(_area_ids([filters.service])))
    if filters.category:
        query = query.where(Incident.category == filters.category)
    if filters.state:
        query = query.where(Incident.status == filters.state)
    if filters.since:
        query = query.where(Incident.occurred_at >= _start_of(filters.since, zone))
    if filters.until:
        query = query.where(Incident.occurred_at < _start_of(filters.until + timedelta(days=1), zone))
    query = query.order_by(Incident.occurred_at.desc(), Incident.id.desc())
    return _as_incidents(await _listed(session, query, offset=offset))


async def areas(session: AsyncSession) -> list[tuple[str, str]]:
    return [(k, n) for k, n in (await session.execute(select(ServiceArea.key, ServiceArea.name))).all()]


async def incidents_of(session: AsyncSession, customer_id: int) -> Sequence[Incident]:
    return (
        await session.scalars(
            select(Incident).where(Incident.customer_id == customer_id).order_by(Incident.occurred_at)
        )
    ).all()
