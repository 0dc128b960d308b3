"""Everything the register holds on one customer, for a subject access request."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Appeal,
    AppealedRestriction,
    AuditEvent,
    Base,
    Customer,
    Decision,
    Incident,
    IncidentNote,
    Letter,
    RestorativeStepTaken,
    Restriction,
    Review,
)


def _row(obj: Base) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in obj.__table__.columns:
        value = getattr(obj, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime | date) else value
    return values


async def _all(session: AsyncSession, query: Any) -> list[Any]:
    return list((await session.scalars(query)).all())


async def customer_record(session: AsyncSession, customer_id: int) -> dict[str, list[dict[str, Any]]] | None:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        return None
    incidents = await _all(
        session, select(Incident).where(Incident.customer_id == customer_id).order_by(Incident.id)
    )
    incident_ids = [i.id for i in incidents]
    decisions = await _all(
        session, select(Decision).where(Decision.incident_id.in_(incident_ids)).order_by(Decision.id)
    )
    restrictions = await _all(
        session, select(Restriction).where(Restriction.customer_id == customer_id).order_by(Restriction.id)
    )
    restriction_ids = [r.id for r in restrictions]
    appeals = await _all(
        session, select(Appeal).where(Appeal.incident_id.in_(incident_ids)).order_by(Appeal.id)
    )
    appeal_ids = [a.id for a in appeals]
    letters = await _all(session, select(Letter).where(Letter.customer_id == customer_id).order_by(Letter.id))
    records = {
        "customer": [str(customer_id)],
        "incident": [str(i) for i in incident_ids],
        "decision": [str(d.id) for d in decisions],
        "restriction": [str(r) for r in restriction_ids],
        "appeal": [str(a) for a in appeal_ids],
        "letter": [str(letter.id) for letter in letters],
    }
    audit = await _all(
        session,
        select(AuditEvent)
        .where(
            or_(
                *(
                    (AuditEvent.record_type == kind) & AuditEvent.record_id.in_(ids)
                    for kind, ids in records.items()
                )
            )
        )
        .order_by(AuditEvent.seq),
    )
    return {
        "customers": [_row(customer)],
        "incidents": [_row(i) for i in incidents],
        "incident_notes": [
            _row(n)
            for n in await _all(
                session, select(IncidentNote).where(IncidentNote.incident_id.in_(incident_ids))
            )
        ],
        "decisions": [_row(d) for d in decisions],
        "restorative_steps": [
            _row(s)
            for s in await _all(
                session, select(RestorativeStepTaken).where(RestorativeStepTaken.customer_id == customer_id)
            )
        ],
        "restrictions": [_row(r) for r in restrictions],
        "reviews": [
            _row(r)
            for r in await _all(session, select(Review).where(Review.restriction_id.in_(restriction_ids)))
        ],
        "appeals": [_row(a) for a in appeals],
        "appealed_restrictions": [
            _row(a)
            for a in await _all(
                session, select(AppealedRestriction).where(AppealedRestriction.appeal_id.in_(appeal_ids))
            )
        ],
        "letters": [_row(letter) for letter in letters],
        "audit_events": [_row(e) for e in audit],
    }
