"""Incidents in the register: references, recording a report, and notes added later."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from policy.categories import Category, is_urgent
from policy.channels import ContactChannel
from policy.incidents import AffectedParty, IncidentStatus, incident_reference
from storage.models import Incident, IncidentNote, ReferenceCounter

_counters = ReferenceCounter.__table__
_START_YEAR = {
    "postgresql": pg_insert(_counters).values(year=bindparam("year"), last=0).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(_counters).values(year=bindparam("year"), last=0).on_conflict_do_nothing(),
}
_ISSUE = (
    update(_counters)
    .where(_counters.c.year == bindparam("for_year"))
    .values(last=_counters.c.last + 1)
    .returning(_counters.c.last)
)


async def next_reference(session: AsyncSession, year: int) -> tuple[int, str]:
    """Issue the next number for `year`. The counter row stays locked until the caller commits,
    so concurrent reports each get their own number, on SQLite and PostgreSQL alike."""
    # Core on the session's connection: the ORM's bulk-update path cost more than the statements.
    connection = await session.connection()
    await connection.execute(_START_YEAR[connection.dialect.name], {"year": year})
    sequence = (await connection.execute(_ISSUE, {"for_year": year})).scalar_one()
    return sequence, incident_reference(year, sequence)


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


async def record(
    session: AsyncSession, report: Report, *, now: datetime, year: int, submission_key: str
) -> Incident:
    sequence, reference = await next_reference(session, year)
    values = dict(
        reference=reference,
        year=year,
        sequence=sequence,
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
    # A Core INSERT on the session's connection: an ORM flush of one new row cost several times
    # the statement. The returned incident is not in the session; read it again to change it.
    connection = await session.connection()
    incident_id = (await connection.execute(_INSERT, values)).scalar_one()
    return Incident(id=incident_id, **values)


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
    connection = await session.connection()
    row = (await connection.execute(_BY_SUBMISSION_KEY, {"key": key})).first()
    return Submitted(*row) if row is not None else None


async def by_reference(session: AsyncSession, reference: str) -> Incident | None:
    return await session.scalar(select(Incident).where(Incident.reference == reference.upper()))


def add_note(
    session: AsyncSession, incident: Incident, *, author_id: int, text: str, now: datetime
) -> IncidentNote:
    note = IncidentNote(incident_id=incident.id, author_id=author_id, text=text, added_at=now)
    session.add(note)
    return note
