"""Incidents in the register: references, recording a report, and notes added later."""

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Text, bindparam, case, cast, exists, func, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from policy.categories import Category, is_urgent
from policy.channels import ContactChannel
from policy.incidents import AffectedParty, IncidentStatus, incident_reference
from storage import direct
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


# PostgreSQL wakes every report waiting on the counter row together when its holder commits, and
# they race for it: at 20 at once some lost for over a second. An advisory lock (for the year, in
# the two-key space the migration lock does not use) queues them first come first served, and
# the row's lock then has nobody waiting. SQLite's writers already take turns in order.
_REPORTS = 0x494E43  # "INC"

_ISSUE: dict[str, Any] = {}


def _issue(dialect: str) -> Any:
    """The year's first report makes its counter row; every later one bumps it. One statement
    either way, and on both backends it holds the row's lock until the caller commits.

    Built at first use for the dialect in use: importing PostgreSQL's dialect where the register
    is SQLite was a twentieth of start-up."""
    if dialect not in _ISSUE:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as insert_for
        else:
            from sqlalchemy.dialects.sqlite import insert as insert_for
        statement = insert_for(_counters).values(year=bindparam("year"), last=1)
        if dialect == "postgresql":
            # Queued first (above), in the same statement: the lock is taken before the row is
            # touched (an InitPlan runs first), with no trip to the server between them while
            # other reports wait.
            statement = insert_for(_counters).from_select(
                ["year", "last"],
                select(bindparam("year", type_=Integer), literal(1, Integer)).where(
                    select(func.pg_advisory_xact_lock(_REPORTS, bindparam("year", type_=Integer)))
                    .scalar_subquery()
                    .is_not(None)
                ),
            )
        _ISSUE[dialect] = statement.on_conflict_do_update(
            index_elements=[_counters.c.year], set_={"last": _counters.c.last + 1}
        ).returning(_counters.c.last)
    return _ISSUE[dialect]


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


_INSERT = insert(Incident.__table__).returning(Incident.__table__.c.id)


def record_steps(
    report: Report, *, now: datetime, year: int, submission_key: str, dialect: str
) -> direct.Plan[Incident]:
    """Issue the year's next reference and write the incident, as steps of a plan
    (`storage.direct`) for `dialect`. The counter's row stays locked until the plan's commit, so
    reports each get their own number. Core INSERTs: an ORM flush of one new row cost several
    times the statement. The returned incident is not in a session; read it again to change it."""
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
        urgent=is_urgent(report.category),
        status=IncidentStatus.REPORTED.value,
    )
    if dialect == "postgresql":
        ((incident_id, reference, sequence),) = yield _numbered_insert(), values
    else:
        ((sequence,),) = yield _issue(dialect), {"year": year}
        reference = incident_reference(year, sequence)
        ((incident_id,),) = yield _INSERT, {**values, "reference": reference, "sequence": sequence}
    return Incident(id=incident_id, reference=reference, sequence=sequence, **values)


@functools.cache
def _numbered_insert() -> Any:
    """PostgreSQL: the year's next number and the incident in one statement. From the number to
    the commit every other report waits (the counter's row is held): one round trip fewer
    there. The reference is made in SQL as `policy.incidents.incident_reference` makes it (a
    test holds the two to each other, past five digits too)."""
    number = _issue("postgresql").cte("number")
    year = bindparam("year", type_=Integer)
    digits = cast(number.c.last, Text)
    reference = func.concat(
        "INC-",
        func.lpad(cast(year, Text), 4, "0"),
        "-",
        case((number.c.last < 100000, func.lpad(digits, 5, "0")), else_=digits),
    )
    given = [c.key for c in _incidents.c if c.key not in ("id", "reference", "sequence")]
    chosen = select(
        reference, number.c.last, *(bindparam(key, type_=_incidents.c[key].type) for key in given)
    ).select_from(number)
    return (
        insert(_incidents)
        .from_select(["reference", "sequence", *given], chosen)
        .returning(_incidents.c.id, _incidents.c.reference, _incidents.c.sequence)
    )


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
    row = await direct.first(session, _BY_SUBMISSION_KEY, {"key": key})
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
    return await direct.run_plan(session, for_card_steps(incident_id), writes=False)


def for_card_steps(incident_id: int) -> direct.Plan[ForCard | None]:
    """`for_card` as a step of a larger plan (`storage.direct`)."""
    found = yield _FOR_CARD, {"incident_id": incident_id}
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
