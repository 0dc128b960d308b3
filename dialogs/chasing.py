"""Undecided incidents are chased: the service's managers again, then the register keepers.

Found from the register (the incidents' own `next_chase_at`, by index), each chase claimed with an
UPDATE only one bot instance can win, in the transaction that queues it: a restart or a second
instance never sends it twice, and a crash before the commit loses nothing. Category one is
chased in hours, at any time; the others in working days, in working hours.
"""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs import decide
from dialogs.notify import card_message
from dialogs.turn import Services
from policy.chasing import ChaseStage, due_now, waited
from policy.incidents import IncidentStatus
from policy.roles import Role
from storage import audit, incidents, outbox, people
from storage.models import Incident

BATCH = 500


async def sweep_undecided(services: Services) -> int:
    """Chase the undecided incidents whose time has come; returns how many chases were queued."""
    now = services.clock()
    open_hours = services.working_hours()
    queued = 0
    async with services.reading() as session:
        due = (
            await session.execute(
                select(
                    Incident.id,
                    Incident.reported_at,
                    Incident.urgent,
                    Incident.chase_stage,
                    Incident.next_chase_at,
                )
                .where(Incident.status == IncidentStatus.REPORTED.value, Incident.next_chase_at <= now)
                .order_by(Incident.next_chase_at, Incident.id)
                .limit(BATCH)
            )
        ).all()
    for incident_id, reported_at, urgent, seen_stage, seen_at in due:
        if not urgent and not open_hours:
            continue  # a threat is chased at any hour; the rest wait for the working day
        stage, upcoming = due_now(
            reported_at,
            urgent,
            ChaseStage(seen_stage) if seen_stage else None,
            now,
            services.chase,
            services.zone,
            services.holidays,
        )
        async with services.sessions() as session:
            claimed = await session.execute(
                update(Incident)
                .where(
                    Incident.id == incident_id,
                    Incident.status == IncidentStatus.REPORTED.value,
                    Incident.next_chase_at == seen_at,
                )
                .values(next_chase_at=upcoming, chase_stage=(stage or seen_stage))
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                continue  # decided meanwhile, or another instance took it
            if stage is not None:
                await _chase(session, services, incident_id, stage, now)
                queued += 1
            await session.commit()
    if queued:
        services.outbox_written()
    return queued


async def _chase(
    session: AsyncSession, services: Services, incident_id: int, stage: ChaseStage, now: datetime
) -> None:
    read = await incidents.for_card(session, incident_id)
    assert read is not None
    incident = read.incident
    views = await decide.incident_views(session, services, read)
    how_long = waited(incident.reported_at, now)
    urgent = "URGENT " if incident.urgent else ""
    if stage is ChaseStage.MANAGERS:
        to = [
            m.id
            for m in await people.with_role(session, Role.MANAGER, service_area_id=incident.service_area_id)
            if m.id != incident.reporter_id
        ]
        if incident.named_decider_id and incident.named_decider_id not in to:
            to.append(incident.named_decider_id)
        summary = f"{urgent}Still waiting for a decision: {incident.reference}, {how_long}"
    else:
        to = [
            k.id
            for k in await people.with_role(session, Role.REGISTER_KEEPER)
            if k.id != incident.reporter_id
        ]
        summary = f"{urgent}Undecided for {how_long}: {incident.reference}"
    roles = await people.roles_of(session, to)
    for person_id in to:
        # The card with its buttons, sent as the report's was: a decision updates it in place.
        outbox.enqueue(
            session,
            outbox.Recipient(person_id=person_id),
            card_message(views.card_for(person_id, roles[person_id]), summary=summary),
            purpose=decide.NOTIFY_PURPOSE,
            now=now,
            record_type="incident",
            record_id=incident.id,
            dedupe_key=f"incident:{incident.id}:chase:{stage.value}:{now.isoformat()}:{person_id}",
            priority=outbox.URGENT if incident.urgent else outbox.NORMAL,
        )
    await audit.record(
        session,
        now=now,
        actor_id=None,
        action="incident.chased",
        record_type="incident",
        record_id=incident.id,
        detail={"stage": stage.value, "recipients": len(to)},
    )
