"""An incident's page, with the cards its viewer may act on (fetched by the page as chat fetches
them), and its letters to download by the cards' rule."""

from dataclasses import dataclass

from sqlalchemy import select

from cards import appeal as appeal_cards
from cards import decision as decision_cards
from cards import records as record_cards
from cards import review as review_cards
from cards.formatting import local_date, local_time
from dialogs import permissions, refusals
from dialogs.letter_files import LetterFile, letter_file
from dialogs.links import LIFETIME, LetterLink
from dialogs.turn import Actor, Services
from dialogs.workspace.common import (
    LETTER_KIND_LABELS,
    STATE_LABELS,
    category_label,
    frame,
    refused,
    restriction_label,
)
from policy.appeals import ROUTE_LABELS
from policy.decisions import (
    DECISION_LABELS,
    AppealRoute,
    DecisionKind,
    RestrictionStatus,
)
from storage import audit, case_facts, decisions
from storage.models import (
    Appeal,
    Customer,
    Decision,
    Incident,
    IncidentNote,
    Letter,
    Restriction,
    ServiceArea,
)
from workspace.html import (
    Page,
    download,
    facts,
    heading,
    link,
    para,
    route,
    section,
    tag,
)

# --- an incident's page -----------------------------------------------------------------------


@dataclass(frozen=True)
class CardRef:
    """A card the viewer may act on, fetched by the page as chat fetches it (`adaptiveCard/action`)."""

    title: str
    verb: str
    data: dict[str, int]


async def incident_page(services: Services, actor: Actor, incident_id: int) -> Page:
    async with services.reading() as session:
        incident = await session.get(Incident, incident_id)
        if incident is None:
            facts_ = None
        else:
            facts_ = await case_facts.for_incident(session, incident.id)
        decides = bool(facts_ and permissions.judge(decision_cards.REFRESH, actor, facts_))
        appeals = (
            list(
                (
                    await session.scalars(
                        select(Appeal).where(Appeal.incident_id == incident_id).order_by(Appeal.id)
                    )
                ).all()
            )
            if incident
            else []
        )
        seen_appeals = []
        for a in appeals:
            if permissions.judge(appeal_cards.REFRESH, actor, await case_facts.for_appeal(session, a)):
                seen_appeals.append(a)
        reporter_only = incident is not None and incident.reporter_id == actor.person_id and not decides
    if incident is None or not (decides or seen_appeals or reporter_only):
        await refusals.record_alone(
            services, actor, decision_cards.REFRESH, record_type="incident", record_id=incident_id
        )
        return refused(actor, "Incident")
    if reporter_only and not seen_appeals:
        return await _reporters_page(services, actor, incident)
    return await _full_incident(services, actor, incident, decides, seen_appeals)


async def _reporters_page(services: Services, actor: Actor, incident: Incident) -> Page:
    """The reporter's own view: where their report stands, nothing about the customer."""
    async with services.reading() as session:
        area = await session.get(ServiceArea, incident.service_area_id)
        decision = await decisions.first_for(session, incident.id)
    title = f"{incident.reference}: your report"
    return Page(
        title,
        frame(
            actor,
            title,
            facts(
                [
                    ("Occurred", local_time(incident.occurred_at, services.zone)),
                    ("Reported", local_time(incident.reported_at, services.zone)),
                    ("Category", category_label(incident.category)),
                    ("Service", area.name if area else ""),
                    ("State", STATE_LABELS.get(incident.status, incident.status)),
                    ("Decision", DECISION_LABELS[DecisionKind(decision.kind)] if decision else None),
                ]
            ),
            para(services.wellbeing_support, class_="hint"),
        ),
    )


async def _full_incident(
    services: Services, actor: Actor, incident: Incident, decides: bool, appeals: list[Appeal]
) -> Page:
    async with services.sessions() as session:
        area = await session.get(ServiceArea, incident.service_area_id)
        customer = await session.get(Customer, incident.customer_id)
        reporter = await decisions.name_of(session, incident.reporter_id)
        notes = (
            await session.scalars(
                select(IncidentNote)
                .where(IncidentNote.incident_id == incident.id)
                .order_by(IncidentNote.added_at)
            )
        ).all()
        decided = (
            await session.scalars(
                select(Decision).where(Decision.incident_id == incident.id).order_by(Decision.decided_at)
            )
        ).all()
        restrictions = (
            (
                await session.scalars(
                    select(Restriction)
                    .where(Restriction.decision_id.in_([d.id for d in decided]))
                    .order_by(Restriction.id)
                )
            ).all()
            if decided
            else []
        )
        letters = (
            (
                await session.scalars(
                    select(Letter).where(Letter.decision_id.in_([d.id for d in decided])).order_by(Letter.id)
                )
            ).all()
            if decided
            else []
        )
        opens_record = bool(
            permissions.judge(
                record_cards.RECORD, actor, await case_facts.for_customer(session, incident.customer_id)
            )
        )
        reviewable = []
        for r in restrictions:
            if r.status == RestrictionStatus.ACTIVE.value and permissions.judge(
                review_cards.REFRESH, actor, await case_facts.for_restriction(session, r)
            ):
                reviewable.append(r)
        names = await decisions.names_of(session, {d.decided_by_id for d in decided})
        await audit.record(
            session,
            now=services.clock(),
            actor_id=actor.person_id,
            action="incident.viewed",
            record_type="incident",
            record_id=incident.id,
            detail={"from": "workspace"},
        )
        await session.commit()
    anonymised = customer is None or customer.anonymised_at is not None
    who = "(anonymised)" if anonymised else customer.name  # type: ignore[union-attr]
    summary = facts(
        [
            (
                "Customer",
                link(who, route(f"/customer/{incident.customer_id}"))
                if opens_record and not anonymised
                else who,
            ),
            ("Occurred", local_time(incident.occurred_at, services.zone)),
            ("Reported", f"{local_time(incident.reported_at, services.zone)} by {reporter}"),
            ("Service", area.name if area else ""),
            ("Category", category_label(incident.category)),
            ("State", STATE_LABELS.get(incident.status, incident.status)),
            ("What happened", incident.description),
            ("Impact on staff", incident.impact_on_staff),
            ("Impact on the service", incident.impact_on_service),
            ("Police reference", incident.police_reference),
        ]
    )
    cards_: list[CardRef] = []
    if decides:
        cards_.append(CardRef("The managers' card", decision_cards.REFRESH, {"incident": incident.id}))
    cards_ += [
        CardRef(f"Review: {restriction_label(r.type)}", review_cards.REFRESH, {"restriction": r.id})
        for r in reviewable
    ]
    cards_ += [
        CardRef(f"Appeal to {ROUTE_LABELS[AppealRoute(a.route)]}", appeal_cards.REFRESH, {"appeal": a.id})
        for a in appeals
    ]
    actions = tag(
        "div",
        *(
            tag(
                "div",
                heading(c.title, 3),
                tag("div", para("Loading…"), class_="card-host"),
                class_="card-slot",
                data_verb=c.verb,
                data_card=_json(c.data),
            )
            for c in cards_
        ),
        class_="actions",
    )
    lines = [
        f"{DECISION_LABELS[DecisionKind(d.kind)]} by {names.get(d.decided_by_id, 'a manager')}, "
        f"{local_time(d.decided_at, services.zone)}: {d.reasons}"
        for d in decided
    ]
    restriction_lines = [
        f"{restriction_label(r.type)} ({r.status}) from {local_date(r.starts_on)}"
        + (f" to {local_date(r.ends_on)}" if r.ends_on else "")
        + (
            f"; review by {local_date(r.review_due_on)}"
            if r.review_due_on
            else f"; no review: {r.no_review_reason}"
        )
        for r in restrictions
    ]
    letter_items = [
        tag(
            "li",
            f"{LETTER_KIND_LABELS.get(letter.kind, letter.kind)}: "
            + (
                f"sent {local_date(letter.sent_on)}"
                if letter.sent_on
                else f"not appropriate: {letter.not_appropriate_reason}"
                if letter.not_appropriate_reason
                else "not yet sent"
            )
            + ". ",
            download("Download (Word)", f"/tab/api/letters/{letter.id}.docx") if decides else None,
        )
        for letter in letters
    ]
    title = f"Incident {incident.reference}"
    return Page(
        title,
        frame(
            actor,
            title,
            summary,
            section(
                "What you can do",
                actions if cards_ else para("Nothing for you to do on this incident.", class_="empty"),
                id_="actions",
            ),
            section(
                "Decision",
                tag("ul", *(tag("li", line) for line in lines))
                if lines
                else para("Not decided yet.", class_="empty"),
                id_="decision",
            ),
            section(
                "Restrictions",
                tag("ul", *(tag("li", line) for line in restriction_lines))
                if restriction_lines
                else para("None.", class_="empty"),
                id_="restrictions",
            ),
            section(
                "Letters",
                tag("ul", *letter_items) if letter_items else para("None.", class_="empty"),
                id_="letters",
            ),
            section(
                "Information added later",
                tag("ul", *(tag("li", f"{local_time(n.added_at, services.zone)}: {n.text}") for n in notes))
                if notes
                else para("None.", class_="empty"),
                id_="notes",
            ),
        ),
    )


def _json(data: dict[str, int]) -> str:
    import json

    return json.dumps(data, separators=(",", ":"))


async def letter_download(
    services: Services, actor: Actor, letter_id: int, *, large: bool
) -> LetterFile | None:
    """A letter, by the same rules and audit as the card's signed link."""
    link_ = LetterLink(letter_id, actor.person_id, large, int((services.clock() + LIFETIME).timestamp()))
    found = await letter_file(services, link_)
    if found is None:
        await refusals.record_alone(
            services, actor, decision_cards.LETTER_LINK, record_type="letter", record_id=letter_id
        )
    return found
