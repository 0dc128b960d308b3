"""Looking customers up: the front-line `check`, and the full record for those allowed it.

Any member of staff may ask how to handle a customer and is told only the instructions of the
customer's active restrictions and who to contact. Managers of the customer's services and the
register keepers may open the full record. Every lookup and every read is an audit event.
"""

import re
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cards import records as cards
from cards.decision import no_access_card
from cards.elements import Card
from cards.formatting import local_date, local_time
from dialogs import refusals
from dialogs.commands import command
from dialogs.turn import Actor, Reply, Services
from policy.categories import CATEGORIES, Category
from policy.decisions import (
    DECISION_LABELS,
    RESTRICTION_LABELS,
    DecisionKind,
    RestrictionScope,
    RestrictionStatus,
    RestrictionType,
)
from policy.roles import may_decide, may_view_full_record
from storage import audit, customers, decisions
from storage.models import Appeal, Customer, Decision, Incident, Letter, Restriction, ServiceArea


def in_force(r: Restriction, today: date) -> bool:
    return (
        r.status == RestrictionStatus.ACTIVE.value
        and r.starts_on <= today
        and (r.ends_on is None or r.ends_on >= today)
    )


async def _areas(session: AsyncSession) -> dict[int, ServiceArea]:
    return {a.id: a for a in (await session.scalars(select(ServiceArea))).all()}


async def _customer_areas(session: AsyncSession, customer_id: int) -> list[str]:
    rows = await session.scalars(
        select(ServiceArea.key)
        .join(Incident, Incident.service_area_id == ServiceArea.id)
        .where(Incident.customer_id == customer_id)
        .distinct()
    )
    return list(rows.all())


async def may_open(session: AsyncSession, actor: Actor, customer_id: int) -> bool:
    return may_view_full_record(actor.roles, service_areas=await _customer_areas(session, customer_id))


@command(
    r"check(?:\s+(.*))?",
    "check <name, reference, postcode or email>",
    "how to handle a customer: the instructions for front-line staff",
    phrases=("look up a customer", "find a customer", "is this customer restricted", "how do I handle"),
    private=True,  # names a customer and how to treat them: never in a channel or group chat
)
async def _check(services: Services, actor: Actor, match: re.Match[str]) -> list[Reply]:
    query = (match.group(1) or "").strip()
    if len(query) < 2 or len(query) > customers.MAX_QUERY:
        return [Reply(text="Type **check** followed by a name, customer reference, postcode or email.")]
    now = services.clock()
    today = now.astimezone(services.zone).date()
    async with services.sessions() as session:
        matches = await customers.search(session, query, limit=5)
        areas = await _areas(session)
        found: list[cards.CheckedCustomer] = []
        for m in matches:
            restrictions = (
                await session.scalars(
                    select(Restriction)
                    .where(Restriction.customer_id == m.candidate.id)
                    .order_by(Restriction.id)
                )
            ).all()
            active = [r for r in restrictions if in_force(r, today)]
            if not active:
                continue
            found.append(
                cards.CheckedCustomer(
                    customer_id=m.candidate.id,
                    label=" · ".join(
                        p for p in (m.candidate.name, m.candidate.reference, m.candidate.postcode) if p
                    ),
                    restrictions=[
                        cards.Instruction(
                            label=RESTRICTION_LABELS[RestrictionType(r.type)],
                            applies_to="Across the council"
                            if r.scope == RestrictionScope.COUNCIL_WIDE.value
                            else f"When dealing with {areas[r.service_area_id].name}",
                            instructions=r.frontline_instructions,
                            contact=f"{await decisions.name_of(session, r.reviewer_id)} "
                            f"({areas[r.service_area_id].name})",
                        )
                        for r in active
                    ],
                    can_open=await may_open(session, actor, m.candidate.id),
                )
            )
        shown = {c.customer_id for c in found}
        # One event per customer looked up: the monthly report says who looked up whom.
        for m in matches:
            await audit.record(
                session,
                now=now,
                actor_id=actor.person_id,
                action="customer.checked",
                record_type="customer",
                record_id=m.candidate.id,
                detail={"instructions_shown": m.candidate.id in shown},
            )
        if not matches:  # a look-up that found nobody is still a look-up
            await audit.record(
                session,
                now=now,
                actor_id=actor.person_id,
                action="customer.checked",
                record_type="customer",
                detail={"matched": 0},
            )
        await session.commit()
    return [Reply(card=cards.check_card(query, found), summary="How to handle this customer")]


async def full_record(
    session: AsyncSession, services: Services, actor: Actor, customer_id: int | None
) -> Card:
    customer = await session.get(Customer, customer_id) if customer_id is not None else None
    if customer is None or not await may_open(session, actor, customer.id):
        await refusals.record(
            session, services, actor, "customer.record", record_type="customer", record_id=customer_id
        )
        return no_access_card()
    now = services.clock()
    zone = services.zone
    areas = await _areas(session)
    incidents = (
        await session.scalars(
            select(Incident).where(Incident.customer_id == customer.id).order_by(Incident.occurred_at)
        )
    ).all()
    incident_ids = [i.id for i in incidents]
    decided = (
        (
            await session.scalars(
                select(Decision).where(Decision.incident_id.in_(incident_ids)).order_by(Decision.decided_at)
            )
        ).all()
        if incident_ids
        else []
    )
    references = {i.id: i.reference for i in incidents}
    restrictions = (
        await session.scalars(
            select(Restriction).where(Restriction.customer_id == customer.id).order_by(Restriction.id)
        )
    ).all()
    appeals = (
        (
            await session.scalars(
                select(Appeal).where(Appeal.incident_id.in_(incident_ids)).order_by(Appeal.received_on)
            )
        ).all()
        if incident_ids
        else []
    )
    replaced = {r.replaces_id for r in restrictions if r.replaces_id}
    letters = (
        await session.scalars(
            select(Letter).where(Letter.customer_id == customer.id).order_by(Letter.produced_at)
        )
    ).all()
    record = cards.FullRecord(
        customer=[
            ("Name", customer.name if customer.anonymised_at is None else "(anonymised)"),
            ("Customer reference", customer.customer_reference),
            ("Email", customer.email),
            ("Phone", customer.phone),
            ("Address", customer.address),
            ("Postcode", customer.postcode),
            ("Support needs and adjustments", customer.support_needs),
            ("Advocate or representative", customer.advocate),
        ],
        incidents=[
            f"{i.reference} · {local_time(i.occurred_at, zone)} · {CATEGORIES[Category(i.category)].label} · "
            f"{areas[i.service_area_id].name} · {i.status}"
            for i in incidents
        ],
        decisions=[
            f"{references[d.incident_id]} · {DECISION_LABELS[DecisionKind(d.kind)]} · "
            f"{await decisions.name_of(session, d.decided_by_id)}, "
            f"{local_time(d.decided_at, zone)}: {d.reasons}"
            for d in decided
        ],
        restrictions=[
            f"{RESTRICTION_LABELS[RestrictionType(r.type)]} · {r.status} · from {local_date(r.starts_on)}"
            + (f" to {local_date(r.ends_on)}" if r.ends_on else "")
            + (
                f" · review by {local_date(r.review_due_on)}"
                if r.review_due_on
                else f" · no review: {r.no_review_reason}"
            )
            for r in restrictions
        ],
        appeals=[f"{a.route} · received {local_date(a.received_on)} · {a.status}" for a in appeals],
        reinstatable=[
            (r.id, f"{RESTRICTION_LABELS[RestrictionType(r.type)]} ({r.status})")
            for r in restrictions
            if r.status in (RestrictionStatus.LIFTED.value, RestrictionStatus.EXPIRED.value)
            and r.id not in replaced
            and may_decide(actor.roles, service_area=areas[r.service_area_id].key, is_reporter=False)
        ],
        letters=[
            f"{letter.kind} · produced {local_time(letter.produced_at, zone)} · "
            + (
                f"sent {local_date(letter.sent_on)}"
                if letter.sent_on
                else (
                    f"not appropriate: {letter.not_appropriate_reason}"
                    if letter.not_appropriate_reason
                    else "not yet sent"
                )
            )
            for letter in letters
        ],
    )
    await audit.record(
        session,
        now=now,
        actor_id=actor.person_id,
        action="customer.record_viewed",
        record_type="customer",
        record_id=customer.id,
    )
    await session.commit()
    return cards.full_record_card(record)
