"""A customer reported before they could be identified (an unknown caller, a social media
account) is matched to their customer record later, by a register keeper, and the match audited.

`unidentified` lists the incidents waiting; `match INC-... to <name and detail>` finds the record
with the same rule as every other search (a name and one more detail that both agree) and moves
the incident, with whatever followed it, onto that record.
"""

import re
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cards.elements import bullets, card, heading, text
from cards.formatting import local_date
from dialogs import finding
from dialogs.commands import command
from dialogs.report import REFERENCE
from dialogs.turn import Actor, Reply, Services
from storage import audit, customers
from storage.models import Customer, Incident, Letter, RestorativeStepTaken, Restriction

MATCH_HOW = (
    "Type **match INC-2026-00042 to** the customer's name and their reference, postcode, email or phone."
)


def _keepers(roles) -> bool:
    return roles.is_register_keeper


@command(
    r"unidentified",
    "unidentified",
    "incidents whose customer could not be identified yet, to match to a customer record",
    phrases=("unknown customers", "unmatched incidents"),
    allowed=_keepers,
    private=True,
)
async def _unidentified(services: Services, actor: Actor, _match: re.Match[str]) -> list[Reply]:
    async with services.sessions() as session:
        rows = (
            await session.execute(
                select(Incident.reference, Incident.occurred_at, Customer.name)
                .join(Customer, Customer.id == Incident.customer_id)
                .where(Customer.unidentified.is_(True), Customer.matched_to_id.is_(None))
                .order_by(Incident.id)
            )
        ).all()
        await audit.record(
            session,
            now=services.clock(),
            actor_id=actor.person_id,
            action="customer.unidentified_listed",
            record_type="customer",
            detail={"shown": len(rows)},
        )
        await session.commit()
    lines = [f"{ref} · {local_date(at.astimezone(services.zone).date())} · {name}" for ref, at, name in rows]
    body = [heading("Incidents whose customer is not yet identified", size="Medium")]
    body += (
        [bullets(lines), text(MATCH_HOW, subtle=True)]
        if lines
        else [text("None: every incident names its customer.")]
    )
    return [Reply(card=card(body), summary="Customers not yet identified")]


async def _move(session: AsyncSession, provisional: int, target: int, now: datetime) -> None:
    """Everything held on the provisional record now belongs to the customer's own; what the
    provisional record said (a number, an account name) is kept no longer than it is needed."""
    for model in (Incident, Restriction, RestorativeStepTaken, Letter):
        await session.execute(
            update(model)
            .where(model.customer_id == provisional)
            .values(customer_id=target)
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        update(Customer)
        .where(Customer.id == provisional)
        .values(matched_to_id=target, name="(matched to a customer record)", anonymised_at=now)
        .execution_options(synchronize_session=False)
    )


@command(
    rf"match\s+({REFERENCE})\s+(?:to\s+)?(.*)",
    "match INC-2026-00042 to <name and reference, postcode, email or phone>",
    "match an incident whose customer was not identified to the customer's record",
    allowed=_keepers,
    private=True,
)
async def _match(services: Services, actor: Actor, match: re.Match[str]) -> list[Reply]:
    reference, query = match.group(1).upper(), match.group(2).strip()
    now = services.clock()
    async with services.sessions() as session:
        incident = await session.scalar(select(Incident).where(Incident.reference == reference))
        provisional = await session.get(Customer, incident.customer_id) if incident else None
        if incident is None or provisional is None or not provisional.unidentified:
            return [Reply(text=f"{reference} is not an incident whose customer is waiting to be identified.")]
        if provisional.matched_to_id is not None:
            return [Reply(text=f"{reference} is already matched to a customer record. Nothing was changed.")]
        found = await customers.search(session, query, reference_alone=True)
        candidates = [m.candidate for m in found.matches if m.candidate.id != provisional.id]
        targets = [
            c for c in candidates if (row := await session.get(Customer, c.id)) and not row.unidentified
        ]
        await audit.record_many(
            session, finding.shown(actor.person_id, "customer.searched", [c.id for c in targets]), now=now
        )
        if found.refused or len(targets) != 1:
            await session.commit()
            problem = (
                finding.ASK[found.refused]
                if found.refused
                else "No customer record matches both"
                if not targets
                else f"{len(targets)} customer records match: add their customer reference"
            )
            return [Reply(text=f"{problem}. Nothing was changed. {MATCH_HOW}")]
        (target,) = targets
        await _move(session, provisional.id, target.id, now)
        await audit.record(
            session,
            now=now,
            actor_id=actor.person_id,
            action="customer.matched",
            record_type="customer",
            record_id=target.id,
            detail={"incident": incident.id, "from": provisional.id},
        )
        await session.commit()
    return [
        Reply(
            text=f"{reference} is now on the record of {finding.label(target)}, with everything that "
            "followed it. The match is in the audit trail."
        )
    ]
