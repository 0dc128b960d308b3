"""Incidents in the register: references, recording a report, and notes added later."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from policy.categories import Category, is_urgent
from policy.channels import ContactChannel
from policy.incidents import AffectedParty, IncidentStatus, incident_reference
from storage.models import (
    Appeal,
    Customer,
    Decision,
    Incident,
    IncidentNote,
    Person,
    ReferenceCounter,
    RestorativeStepTaken,
    Restriction,
    ServiceArea,
)

_counters = ReferenceCounter.__table__


def _issue(dialect: str) -> Any:
    """The year's first report makes its counter row; every later one bumps it. One statement
    either way, and on both backends it holds the row's lock until the caller commits, so
    reports each get their own number."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as insert_for
    else:
        from sqlalchemy.dialects.sqlite import insert as insert_for
    return (
        insert_for(_counters)
        .values(year=bindparam("year"), last=1)
        .on_conflict_do_update(index_elements=[_counters.c.year], set_={"last": _counters.c.last + 1})
        .returning(_counters.c.last)
    )


@dataclass(frozen=True)
class Report:
    """A checked report, ready for the register."""

    customer_id: int
    reporter_id: int
    service_area_id: int
    occurred_at: datetime
    channel: ContactChannel
    category: Category
    behaviours: tuple[str, ...]
    description: str
    impact_on_staff: str | None
    impact_on_service: str | None
    others_affected: tuple[AffectedParty, ...]
    ended_contact: bool
    left_premises: bool
    police_called: bool
    police_reference: str | None
    reporter_wants_support: bool
    physical_violence: bool = False
    weapon_or_animal: bool = False
    reported_as: str = "employee"  # or "elected_member": the capacity held when they acted
    other_behaviour: str | None = None
    representative: str | None = None
    next_chase_at: datetime | None = None  # when an undecided report is first chased


_INSERT = insert(Incident.__table__).returning(Incident.__table__.c.id)


async def record(
    session: AsyncSession, report: Report, *, now: datetime, year: int, submission_key: str
) -> Incident:
    """Issue the year's next reference and write the incident. The counter's row stays locked
    until the commit, so reports each get their own number. A Core INSERT: the returned
    incident is not in the session; read it again to change it."""
    values = dict(
        year=year,
        submission_key=submission_key,
        customer_id=report.customer_id,
        reporter_id=report.reporter_id,
        service_area_id=report.service_area_id,
        occurred_at=report.occurred_at,
        reported_at=now,
        channel=report.channel.value,
        category=report.category.value,
        behaviours=list(report.behaviours),
        description=report.description,
        impact_on_staff=report.impact_on_staff,
        impact_on_service=report.impact_on_service,
        others_affected=[p.value for p in report.others_affected],
        ended_contact=report.ended_contact,
        left_premises=report.left_premises,
        police_called=report.police_called,
        police_reference=report.police_reference,
        reporter_wants_support=report.reporter_wants_support,
        physical_violence=report.physical_violence,
        weapon_or_animal=report.weapon_or_animal,
        reported_as=report.reported_as,
        urgent=is_urgent(report.category),
        status=IncidentStatus.REPORTED.value,
        other_behaviour=report.other_behaviour,
        representative=report.representative,
        chase_stage=None,
        next_chase_at=report.next_chase_at,
        named_decider_id=None,
        named_decider_reason=None,
    )
    dialect = session.get_bind().dialect.name
    sequence = (await session.execute(_issue(dialect), {"year": year})).scalar_one()
    reference = incident_reference(year, sequence)
    incident_id = (
        await session.execute(_INSERT, {**values, "reference": reference, "sequence": sequence})
    ).scalar_one()
    return Incident(id=incident_id, reference=reference, sequence=sequence, **values)


@dataclass(frozen=True)
class Submitted:
    reference: str
    reporter_id: int
    service_area_id: int


_BY_SUBMISSION_KEY = select(Incident.reference, Incident.reporter_id, Incident.service_area_id).where(
    Incident.submission_key == bindparam("key")
)


async def by_submission_key(session: AsyncSession, key: str) -> Submitted | None:
    """The incident a report's Send stored, if it did: asked on every Send, usually answered no."""
    row = (await session.execute(_BY_SUBMISSION_KEY, {"key": key})).first()
    return Submitted(*row) if row is not None else None


async def by_reference(session: AsyncSession, reference: str) -> Incident | None:
    return await session.scalar(select(Incident).where(Incident.reference == reference.upper()))


def add_note(
    session: AsyncSession, incident: Incident, *, author_id: int, text: str, now: datetime
) -> IncidentNote:
    note = IncidentNote(incident_id=incident.id, author_id=author_id, text=text, added_at=now)
    session.add(note)
    return note


@dataclass(frozen=True)
class NoteShown:
    """A note as its notification shows it."""

    author: str | None
    text: str


async def latest_notes(
    session: AsyncSession, incident_id: int, *, count: int, besides: int
) -> list[NoteShown]:
    """The incident's newest `count` notes by anyone but `besides` (who is not told of their own),
    oldest first: what a manager's waiting notification gathers."""
    rows = await session.execute(
        select(Person.display_name, IncidentNote.text)
        .join(Person, Person.id == IncidentNote.author_id)
        .where(IncidentNote.incident_id == incident_id, IncidentNote.author_id != besides)
        .order_by(IncidentNote.id.desc())
        .limit(count)
    )
    return [NoteShown(*row) for row in reversed(rows.all())]


@dataclass(frozen=True)
class Area:
    id: int
    key: str
    name: str


@dataclass(frozen=True)
class ForCard:
    """An incident and what its card names besides: the customer, the service, the reporter and
    the decision on it (the first, if there were ever two), as read. None of it is in the
    session: it is for showing, and for the ids it holds."""

    incident: Incident
    customer: Customer | None
    area: Area | None
    reporter: str
    decision: Decision | None = None
    # Whether the customer has any history to show (earlier incidents, restorative steps,
    # restrictions, appeals): when not, the card need not read it.
    has_history: bool = True


_incidents = Incident.__table__
_customers = Customer.__table__
_decisions = Decision.__table__
_earlier = _decisions.alias("earlier")
_first = (
    select(func.min(_earlier.c.id))
    .where(_earlier.c.incident_id == _incidents.c.id)
    .correlate(_incidents)
    .scalar_subquery()
)
_other = _incidents.alias("other")
_HAS_HISTORY = or_(
    exists().where(_other.c.customer_id == _incidents.c.customer_id, _other.c.id != _incidents.c.id),
    exists().where(RestorativeStepTaken.customer_id == _incidents.c.customer_id),
    exists().where(Restriction.customer_id == _incidents.c.customer_id),
    # Appeals count on any of the customer's incidents, this one included, as the history lists them.
    exists().where(_other.c.customer_id == _incidents.c.customer_id).where(Appeal.incident_id == _other.c.id),
)
_FOR_CARD = (
    select(
        *_incidents.c,
        *(c.label(f"customer__{c.key}") for c in _customers.c),
        *(c.label(f"decision__{c.key}") for c in _decisions.c),
        ServiceArea.id.label("area_id"),
        ServiceArea.key.label("area_key"),
        ServiceArea.name.label("area_name"),
        Person.display_name.label("reporter_name"),
        Person.email.label("reporter_email"),
        _HAS_HISTORY.label("has_history"),
    )
    .outerjoin(_customers, _customers.c.id == _incidents.c.customer_id)
    .outerjoin(ServiceArea, ServiceArea.id == _incidents.c.service_area_id)
    .outerjoin(Person, Person.id == _incidents.c.reporter_id)
    .outerjoin(_decisions, _decisions.c.id == _first)
    .where(_incidents.c.id == bindparam("incident_id"))
)


_FOR_CARD_KEYS = tuple(_FOR_CARD.selected_columns.keys())


async def for_card(session: AsyncSession, incident_id: int) -> ForCard | None:
    """One statement for what five reads fetched for every action on a card, and whether a
    sixth (the customer's history) is needed at all."""
    found = (await session.execute(_FOR_CARD, {"incident_id": incident_id})).all()
    if not found:
        return None
    fields = dict(zip(_FOR_CARD_KEYS, found[0], strict=True))
    incident = Incident(**{c.key: fields[c.key] for c in _incidents.c})
    customer = (
        Customer(**{c.key: fields[f"customer__{c.key}"] for c in _customers.c})
        if fields["customer__id"] is not None
        else None
    )
    area = None
    if fields["area_id"] is not None:
        area = Area(fields["area_id"], fields["area_key"], fields["area_name"])
    decision = (
        Decision(**{c.key: fields[f"decision__{c.key}"] for c in _decisions.c})
        if fields["decision__id"] is not None
        else None
    )
    # As decisions.name_of names a person.
    reporter = fields["reporter_name"] or fields["reporter_email"] or "a colleague"
    return ForCard(incident, customer, area, reporter, decision, bool(fields["has_history"]))


@dataclass(frozen=True)
class Reported:
    """What the reporter of an incident may see of it in a list: nothing about the customer."""

    reference: str
    occurred_at: datetime
    category: str
    status: str


async def reported_by(session: AsyncSession, person_id: int, *, limit: int) -> tuple[list[Reported], int]:
    """The newest `limit` incidents `person_id` reported, and how many they reported in all."""
    rows = await session.execute(
        select(Incident.reference, Incident.occurred_at, Incident.category, Incident.status)
        .where(Incident.reporter_id == person_id)
        .order_by(Incident.reported_at.desc(), Incident.id.desc())
        .limit(limit)
    )
    total = await session.scalar(select(func.count()).where(Incident.reporter_id == person_id))
    return [Reported(*row) for row in rows], total or 0
