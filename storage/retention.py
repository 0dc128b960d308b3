"""Retention: anonymising what the register no longer needs to hold about a customer.

Names, contact details and free text go; categories, channels, behaviours, dates and outcomes
stay, so the annual report's counts are unchanged. Nothing goes while a restriction is active or
an appeal is open.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from policy.decisions import RestrictionStatus
from policy.retention import RetentionRules
from storage import audit
from storage.models import (
    Appeal,
    Customer,
    Decision,
    Incident,
    IncidentNote,
    Letter,
    OutboxMessage,
    RestorativeStepTaken,
    Restriction,
    Review,
)

REMOVED = "[removed under the retention schedule]"


@dataclass(frozen=True)
class Due:
    customer_id: int
    incidents: int
    due_since: date


@dataclass(frozen=True)
class Skipped:
    """A row retention could not count from: its customer is kept until someone corrects it."""

    customer_id: int
    incident_id: int
    why: str


@dataclass(frozen=True)
class Plan:
    due: list[Due]
    skipped: tuple[Skipped, ...]


async def plan(
    session: AsyncSession,
    rules: RetentionRules,
    today: date,
    zone: ZoneInfo,
    *,
    customer_id: int | None = None,
) -> Plan:
    """Customers whose retention period has passed, and the rows that could not be counted;
    with `customer_id`, only that customer's."""
    incidents = (
        await session.execute(
            select(
                Incident.id,
                Incident.customer_id,
                Incident.category,
                Incident.behaviours,
                Incident.physical_violence,
                Incident.weapon_or_animal,
                Incident.occurred_at,
            )
            .join(Customer, Customer.id == Incident.customer_id)
            .where(Customer.anonymised_at.is_(None))
            .where(Incident.customer_id == customer_id if customer_id is not None else true())
        )
    ).all()
    restrictions = (
        await session.execute(
            select(
                Decision.incident_id,
                Restriction.customer_id,
                Restriction.status,
                Restriction.ends_on,
                Restriction.ended_at,
            ).join(Decision, Decision.id == Restriction.decision_id)
        )
    ).all()
    open_appeals = set(
        (
            await session.scalars(
                select(Incident.customer_id)
                .join(Appeal, Appeal.incident_id == Incident.id)
                .where(Appeal.status == "open")
            )
        ).all()
    )
    held = set(open_appeals) | {
        r.customer_id for r in restrictions if r.status == RestrictionStatus.ACTIVE.value
    }
    ended: dict[int, date] = {}
    skipped: list[Skipped] = []
    for r in restrictions:
        try:
            end = r.ended_at.astimezone(zone).date() if r.ended_at else r.ends_on
        except (ValueError, OverflowError):
            # A time at the calendar's edge: the incident's period cannot be counted from it.
            skipped.append(Skipped(r.customer_id, r.incident_id, "its restriction's end is out of range"))
            held.add(r.customer_id)
            continue
        if end is not None:
            ended[r.incident_id] = max(end, ended.get(r.incident_id, end))
    by_customer: dict[int, list[date]] = defaultdict(list)
    for i in incidents:
        try:
            by_customer[i.customer_id].append(_due_on(rules, i, ended, zone))
        except (ValueError, OverflowError):
            # One row's dates (say a restriction ending 9999-12-31) must not stop the run for the
            # whole register: its customer is kept, and the row reported for someone to correct.
            skipped.append(Skipped(i.customer_id, i.id, "its retention period ends beyond the calendar"))
            held.add(i.customer_id)
    found = sorted(
        (
            Due(customer_id, len(dates), max(dates))
            for customer_id, dates in by_customer.items()
            if customer_id not in held and max(dates) <= today
        ),
        key=lambda d: (d.due_since, d.customer_id),
    )
    return Plan(found, tuple(skipped))


def _due_on(rules: RetentionRules, incident: Any, ended: dict[int, date], zone: ZoneInfo) -> date:
    """When the incident's retention period ends: ValueError or OverflowError past the calendar."""
    counted_from = ended.get(incident.id) or incident.occurred_at.astimezone(zone).date()
    flags = [
        f
        for f, on in (
            ("physical_violence", incident.physical_violence),
            ("weapon_or_animal", incident.weapon_or_animal),
        )
        if on
    ]
    return rules.due_on(counted_from, incident.category, incident.behaviours, flags)


async def due(
    session: AsyncSession,
    rules: RetentionRules,
    today: date,
    zone: ZoneInfo,
    *,
    customer_id: int | None = None,
) -> list[Due]:
    """Customers whose retention period has passed; with `customer_id`, only that one."""
    return list((await plan(session, rules, today, zone, customer_id=customer_id)).due)


async def anonymise(session: AsyncSession, customer_id: int, *, now: datetime) -> bool:
    """Remove the customer's personal data and every free text about them; keep the counts.

    False when another instance's nightly run got there first: the UPDATE is the claim."""
    claimed = await session.execute(
        update(Customer)
        .where(Customer.id == customer_id, Customer.anonymised_at.is_(None))
        .values(
            name=f"Anonymised customer {customer_id}",
            customer_reference=None,
            email=None,
            phone=None,
            address=None,
            postcode=None,
            support_needs=None,
            advocate=None,
            anonymised_at=now,
        )
    )
    if claimed.rowcount == 0:
        return False
    incident_ids = list(
        (await session.scalars(select(Incident.id).where(Incident.customer_id == customer_id))).all()
    )
    await session.execute(
        update(Incident)
        .where(Incident.customer_id == customer_id)
        .values(
            description=REMOVED,
            impact_on_staff=None,
            impact_on_service=None,
            police_reference=None,
            other_behaviour=None,
            representative=None,
            named_decider_reason=None,
        )
    )
    await session.execute(
        update(IncidentNote).where(IncidentNote.incident_id.in_(incident_ids)).values(text=REMOVED)
    )
    decision_ids = list(
        (await session.scalars(select(Decision.id).where(Decision.incident_id.in_(incident_ids)))).all()
    )
    await session.execute(
        update(Decision)
        .where(Decision.id.in_(decision_ids))
        .values(
            reasons=REMOVED,
            restorative_not_possible_reason=None,
            without_prior_warning_reason=None,
            needs_considered_note=None,
            reasonable_adjustments=None,
            signposting=None,
            police_reference=None,
        )
    )
    restriction_ids = list(
        (await session.scalars(select(Restriction.id).where(Restriction.customer_id == customer_id))).all()
    )
    await session.execute(
        update(Restriction)
        .where(Restriction.id.in_(restriction_ids))
        .values(details=REMOVED, frontline_instructions=REMOVED, no_review_reason=None, ended_reason=None)
    )
    await session.execute(
        update(Review)
        .where(Review.restriction_id.in_(restriction_ids))
        .values(reasons=REMOVED, needs_considered_note=None)
    )
    appeal_ids = list(
        (await session.scalars(select(Appeal.id).where(Appeal.incident_id.in_(incident_ids)))).all()
    )
    await session.execute(
        update(Appeal).where(Appeal.id.in_(appeal_ids)).values(grounds=REMOVED, outcome_reasons=None)
    )
    letter_ids = list(
        (await session.scalars(select(Letter.id).where(Letter.customer_id == customer_id))).all()
    )
    await session.execute(update(Letter).where(Letter.id.in_(letter_ids)).values(not_appropriate_reason=None))
    # Who took a restorative step outside the bot is a name too.
    await session.execute(
        update(RestorativeStepTaken)
        .where(RestorativeStepTaken.customer_id == customer_id)
        .values(taken_by=None)
    )
    # The cards sent about them hold the same details.
    records = [
        ("incident", incident_ids),
        ("decision", decision_ids),
        ("restriction", restriction_ids),
        ("appeal", appeal_ids),
        ("letter", letter_ids),
    ]
    about_them = [
        (OutboxMessage.record_type == kind) & OutboxMessage.record_id.in_([str(i) for i in ids])
        for kind, ids in records
        if ids
    ]
    if about_them:
        await session.execute(
            update(OutboxMessage)
            .where(or_(*about_them))
            .values(activity={"type": "message", "text": REMOVED})
        )
    await audit.record(
        session,
        now=now,
        actor_id=None,
        action="retention.anonymised",
        record_type="customer",
        record_id=customer_id,
        detail={
            "incidents": len(incident_ids),
            "restrictions": len(restriction_ids),
            "appeals": len(appeal_ids),
        },
    )
    return True
