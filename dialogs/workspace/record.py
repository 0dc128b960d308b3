"""A customer's record as a timeline: the chat's full record, by the same rule, an audited view."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from cards import records as record_cards
from cards.formatting import local_date, local_time
from dialogs import permissions
from dialogs.turn import Actor, Services
from dialogs.workspace.common import (
    LETTER_KIND_LABELS,
    STATE_LABELS,
    category_label,
    frame,
    incident_link,
    refused,
    restriction_label,
)
from policy.appeals import ROUTE_LABELS, in_a_line
from policy.decisions import (
    DECISION_LABELS,
    AppealRoute,
    DecisionKind,
    RestrictionStatus,
)
from policy.permissions import Case, sees_case
from storage import audit, case_facts, decisions, workspace
from storage.models import (
    Appeal,
    Customer,
    Decision,
    Letter,
    Restriction,
    Review,
    ServiceArea,
)
from workspace.html import (
    Html,
    Page,
    download,
    facts,
    join,
    para,
    section,
    tag,
)

# --- a customer's record ----------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    when: datetime
    kind: str
    text: Html


def _at(day: date, services: Services) -> datetime:
    return datetime.combine(day, datetime.min.time(), services.zone)


async def customer_page(services: Services, actor: Actor, customer_id: int) -> Page:
    async with services.sessions() as session:
        customer = await session.get(Customer, customer_id)
        facts_ = await case_facts.for_customer(session, customer.id if customer else None)
        if not await permissions.check(session, services, actor, record_cards.RECORD, facts_, customer_id):
            return refused(actor, "Customer record")
        assert customer is not None
        areas = {a.id: a for a in (await session.scalars(select(ServiceArea))).all()}
        incidents = [
            i
            for i in await workspace.incidents_of(session, customer.id)
            if sees_case(actor.roles, actor.person_id, Case(areas[i.service_area_id].key, i.reporter_id))
        ]
        ids = [i.id for i in incidents]
        reference = {i.id: i.reference for i in incidents}
        decided = (
            list((await session.scalars(select(Decision).where(Decision.incident_id.in_(ids)))).all())
            if ids
            else []
        )
        decision_incident = {d.id: d.incident_id for d in decided}
        restrictions = (
            list(
                (
                    await session.scalars(
                        select(Restriction).where(Restriction.decision_id.in_(list(decision_incident)))
                    )
                ).all()
            )
            if decided
            else []
        )
        restriction_incident = {r.id: decision_incident[r.decision_id] for r in restrictions}
        reviews = (
            list(
                (
                    await session.scalars(
                        select(Review).where(Review.restriction_id.in_(list(restriction_incident)))
                    )
                ).all()
            )
            if restrictions
            else []
        )
        appeals = (
            list((await session.scalars(select(Appeal).where(Appeal.incident_id.in_(ids)))).all())
            if ids
            else []
        )
        appeal_ids = {a.id for a in appeals}
        letters = [
            letter
            for letter in (
                await session.scalars(select(Letter).where(Letter.customer_id == customer.id))
            ).all()
            if letter.decision_id in decision_incident or letter.appeal_id in appeal_ids
        ]
        names = await decisions.names_of(
            session, {d.decided_by_id for d in decided} | {v.reviewer_id for v in reviews}
        )
        await audit.record(
            session,
            now=services.clock(),
            actor_id=actor.person_id,
            action="customer.record_viewed",
            record_type="customer",
            record_id=customer.id,
            detail={"from": "workspace"},
        )
        await session.commit()

    def inc(incident_id: int) -> Html:
        return incident_link(reference[incident_id], incident_id)

    events: list[Event] = []
    for i in incidents:
        events.append(
            Event(
                i.occurred_at,
                "Incident",
                join(
                    [
                        inc(i.id),
                        f": {category_label(i.category)}, {areas[i.service_area_id].name}. ",
                        STATE_LABELS.get(i.status, i.status),
                        ".",
                    ]
                ),
            )
        )
    for d in decided:
        events.append(
            Event(
                d.decided_at,
                "Decision",
                join(
                    [
                        inc(d.incident_id),
                        f": {DECISION_LABELS[DecisionKind(d.kind)]}, "
                        f"by {names.get(d.decided_by_id, 'a manager')}. ",
                        d.reasons,
                    ]
                ),
            )
        )
    for r in restrictions:
        period = f"from {local_date(r.starts_on)}" + (f" to {local_date(r.ends_on)}" if r.ends_on else "")
        review = (
            f"review by {local_date(r.review_due_on)}"
            if r.review_due_on
            else f"no review: {r.no_review_reason}"
        )
        events.append(
            Event(
                _at(r.starts_on, services),
                "Restriction",
                join(
                    [
                        inc(restriction_incident[r.id]),
                        f": {restriction_label(r.type)} ({r.status}), {period}; {review}.",
                    ]
                ),
            )
        )
    for v in reviews:
        events.append(
            Event(
                v.done_at,
                "Review",
                join(
                    [
                        inc(restriction_incident[v.restriction_id]),
                        f": {v.outcome}, by {names.get(v.reviewer_id, 'a reviewer')}. ",
                        v.reasons,
                    ]
                ),
            )
        )
    for a in appeals:
        events.append(
            Event(
                _at(a.received_on, services),
                "Appeal",
                join(
                    [
                        inc(a.incident_id),
                        f": received {local_date(a.received_on)}; {in_a_line(a.route, None)}."
                        if a.route is None
                        else f": to {ROUTE_LABELS[AppealRoute(a.route)]}, received "
                        f"{local_date(a.received_on)}; {a.status}.",
                    ]
                ),
            )
        )
        if a.outcome_at is not None:
            events.append(
                Event(
                    a.outcome_at,
                    "Appeal outcome",
                    join(
                        [inc(a.incident_id), f": {in_a_line(a.route, a.outcome)}. ", a.outcome_reasons or ""]
                    ),
                )
            )
    for letter in letters:
        state = (
            f"sent {local_date(letter.sent_on)}"
            if letter.sent_on
            else f"not appropriate: {letter.not_appropriate_reason}"
            if letter.not_appropriate_reason
            else "not yet sent"
        )
        events.append(
            Event(
                letter.produced_at,
                "Letter",
                join(
                    [
                        f"{LETTER_KIND_LABELS.get(letter.kind, letter.kind)}, {state}. ",
                        download("Download (Word)", f"/tab/api/letters/{letter.id}.docx"),
                        " ",
                        download("Large print", f"/tab/api/letters/{letter.id}.docx?large=1"),
                    ]
                ),
            )
        )
    events.sort(key=lambda e: e.when)
    timeline = tag(
        "ol",
        *(
            tag(
                "li",
                tag("time", local_time(e.when, services.zone), datetime=e.when.isoformat()),
                " ",
                tag("strong", e.kind),
                " ",
                e.text,
            )
            for e in reversed(events)
        ),
        class_="timeline",
        aria_label="Timeline, newest first",
    )
    anonymised = customer.anonymised_at is not None
    details = facts(
        [
            ("Name", "(anonymised)" if anonymised else customer.name),
            ("Customer reference", customer.customer_reference),
            ("Email", customer.email),
            ("Phone", customer.phone),
            ("Address", customer.address),
            ("Postcode", customer.postcode),
            ("Support needs and adjustments", customer.support_needs),
            ("Advocate or representative", customer.advocate),
        ]
    )
    in_force = [r for r in restrictions if r.status == RestrictionStatus.ACTIVE.value]
    tools = (
        para(download("Subject access pack (JSON and Word)", f"/tab/api/subject-access/{customer.id}.zip"))
        if actor.roles.is_register_keeper
        else None
    )
    title = "Customer record" if anonymised else f"{customer.name}: customer record"
    return Page(
        title,
        frame(
            actor,
            title,
            details,
            para(f"{len(incidents)} incident(s) you may see; {len(in_force)} restriction(s) in force."),
            tools,
            section(
                "Timeline", timeline if events else para("Nothing recorded.", class_="empty"), id_="timeline"
            ),
        ),
    )
