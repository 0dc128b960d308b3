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
from dialogs import finding, permissions
from dialogs.commands import command
from dialogs.turn import Actor, Reply, Services
from policy.appeals import in_a_line
from policy.categories import CATEGORIES, Category
from policy.decisions import (
    DECISION_LABELS,
    RESTRICTION_LABELS,
    DecisionKind,
    LetterFormat,
    RestrictionScope,
    RestrictionStatus,
    RestrictionType,
)
from policy.incidents import IncidentStatus
from policy.permissions import Case, sees_case
from policy.roles import Role
from storage import audit, case_facts, customers, decisions, people
from storage.models import Appeal, Customer, Decision, Incident, Letter, Restriction, ServiceArea


def in_force(r: Restriction, today: date) -> bool:
    return (
        r.status == RestrictionStatus.ACTIVE.value
        and r.starts_on <= today
        and (r.ends_on is None or r.ends_on >= today)
    )


async def _areas(session: AsyncSession) -> dict[int, ServiceArea]:
    return {a.id: a for a in (await session.scalars(select(ServiceArea))).all()}


async def may_open(session: AsyncSession, actor: Actor, customer_id: int) -> bool:
    facts = await case_facts.for_customer(session, customer_id)
    return bool(permissions.judge(cards.RECORD, actor, facts))


async def _reinstatable(session: AsyncSession, actor: Actor, restrictions: list[Restriction]) -> set[int]:
    """The ended restrictions the actor may reinstate, by the reinstating rule on each one's case."""
    ended = (RestrictionStatus.LIFTED.value, RestrictionStatus.EXPIRED.value)
    found = set()
    for r in restrictions:
        if r.status in ended:
            facts = await case_facts.for_restriction(session, r)
            if permissions.judge(cards.REINSTATE_FORM, actor, facts):
                found.add(r.id)
    return found


async def _threat_awaiting(
    session: AsyncSession, customer_id: int, areas: dict[int, ServiceArea]
) -> list[str]:
    """Whom to contact about each undecided category-one report on the customer: its service's
    managers (and a manager a keeper named). Nothing about the report itself."""
    waiting = (
        await session.scalars(
            select(Incident)
            .where(
                Incident.customer_id == customer_id,
                Incident.status == IncidentStatus.REPORTED.value,
                Incident.category == Category.ONE.value,
            )
            .order_by(Incident.id)
        )
    ).all()
    contacts: list[str] = []
    for incident in waiting:
        managers = await people.with_role(session, Role.MANAGER, service_area_id=incident.service_area_id)
        names = [decisions.display(m) for m in managers]
        if incident.named_decider_id:
            names.append(await decisions.name_of(session, incident.named_decider_id))
        area = areas[incident.service_area_id].name
        line = f"{', '.join(dict.fromkeys(names))} ({area})" if names else f"the register keepers ({area})"
        if line not in contacts:
            contacts.append(line)
    return contacts


CHECK_HOW = (
    "Type **check** followed by the customer's name and their reference, postcode, email or phone "
    "(check Pat Jones AB1 2CD), or their exact customer reference."
)


@command(
    r"check(?:\s+(.*))?",
    "check <name and reference, postcode, email or phone>",
    "how to handle a customer: the instructions for front-line staff",
    phrases=("look up a customer", "find a customer", "is this customer restricted", "how do I handle"),
    private=True,  # names a customer and how to treat them: never in a channel or group chat
)
async def _check(services: Services, actor: Actor, match: re.Match[str]) -> list[Reply]:
    query = (match.group(1) or "").strip()
    if len(query) < 2 or len(query) > customers.MAX_QUERY:
        return [Reply(text=CHECK_HOW)]
    now = services.clock()
    today = now.astimezone(services.zone).date()
    async with services.sessions() as session:
        # The same rule as the report form's search: `check nor` must not list the register.
        searched = await customers.search(session, query, reference_alone=True)
        matches = searched.matches
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
            awaiting = await _threat_awaiting(session, m.candidate.id, areas)
            if not active and not awaiting:
                continue
            found.append(
                cards.CheckedCustomer(
                    awaiting=awaiting,
                    customer_id=m.candidate.id,
                    label=finding.label(m.candidate),
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
    if searched.refused:
        return [Reply(text=f"{finding.ASK[searched.refused]}. {CHECK_HOW}")]
    return [Reply(card=cards.check_card(query, found), summary="How to handle this customer")]


def letters_asked(customer: Customer) -> str | None:
    """The customer's letters as recorded: a format and a language, or nothing for standard print."""
    asked = []
    if customer.letter_format == LetterFormat.LARGE_PRINT.value:
        asked.append("Large print")
    elif customer.letter_format == LetterFormat.OTHER.value:
        asked.append(customer.letter_format_detail or "Another format")
    if customer.language:
        asked.append(f"in {customer.language}")
    return " ".join(asked) or None


async def full_record(
    session: AsyncSession, services: Services, actor: Actor, customer_id: int | None
) -> Card:
    customer = await session.get(Customer, customer_id) if customer_id is not None else None
    facts = await case_facts.for_customer(session, customer.id if customer else None)
    # No customer means no cases: the rule refuses, and the refusal is recorded like any other.
    if not await permissions.check(session, services, actor, cards.RECORD, facts, customer_id):
        return no_access_card()
    assert customer is not None
    now = services.clock()
    zone = services.zone
    areas = await _areas(session)
    # A manager sees their own service's cases, not one they reported; a keeper sees all.
    incidents = [
        i
        for i in (
            await session.scalars(
                select(Incident).where(Incident.customer_id == customer.id).order_by(Incident.occurred_at)
            )
        ).all()
        if sees_case(actor.roles, actor.person_id, Case(areas[i.service_area_id].key, i.reporter_id))
    ]
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
    decision_ids = {d.id for d in decided}
    restrictions = [
        r
        for r in (
            await session.scalars(
                select(Restriction).where(Restriction.customer_id == customer.id).order_by(Restriction.id)
            )
        ).all()
        if r.decision_id in decision_ids
    ]
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
    may_reinstate = await _reinstatable(session, actor, restrictions)
    appeal_ids = {a.id for a in appeals}
    letters = [
        letter
        for letter in (
            await session.scalars(
                select(Letter).where(Letter.customer_id == customer.id).order_by(Letter.produced_at)
            )
        ).all()
        if letter.decision_id in decision_ids or letter.appeal_id in appeal_ids
    ]
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
            ("Letters", letters_asked(customer)),
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
        appeals=[
            f"{references[a.incident_id]} · received {local_date(a.received_on)} · "
            f"{in_a_line(a.route, a.outcome)}"
            for a in appeals
        ],
        reinstatable=[
            (r.id, f"{RESTRICTION_LABELS[RestrictionType(r.type)]} ({r.status})")
            for r in restrictions
            if r.status in (RestrictionStatus.LIFTED.value, RestrictionStatus.EXPIRED.value)
            and r.id not in replaced
            and r.id in may_reinstate
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
