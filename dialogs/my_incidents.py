"""`my incidents`: the incidents a person reported, and where each one stands."""

import re

from cards.formatting import local_date
from cards.records import ReportedIncident, my_incidents_card
from dialogs.commands import command
from dialogs.turn import Actor, Reply, Services
from policy.categories import CATEGORIES, Category
from policy.incidents import IncidentStatus
from storage import incidents

SHOWN = 10

STATES = {
    IncidentStatus.REPORTED.value: "Waiting for a manager's decision",
    IncidentStatus.DECIDED.value: "Decided: you were sent the decision",
}


@command(
    r"my\s+(?:incidents?|reports?)",
    "my incidents",
    "the incidents you reported, and where each one stands",
    phrases=("incidents I reported", "my reports", "my cases", "what did I report", "status of my report"),
    button="My incidents",
)
async def _mine(services: Services, actor: Actor, _match: re.Match[str]) -> list[Reply]:
    # Only the reporter's own incidents, and nothing about the customer (no name, no account of
    # what happened): the list reads no customer's record, so it is not an audited view.
    async with services.reading() as session:
        found, total = await incidents.reported_by(session, actor.person_id, limit=SHOWN)
    rows = [
        ReportedIncident(
            reference=i.reference,
            date=local_date(i.occurred_at.astimezone(services.zone).date()),
            category=CATEGORIES[Category(i.category)].label,
            state=STATES.get(i.status, i.status),
        )
        for i in found
    ]
    return [Reply(card=my_incidents_card(rows, total), summary="Incidents you reported")]
