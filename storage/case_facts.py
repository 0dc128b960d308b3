"""The facts `policy.permissions` judges a step on, read from the register's whole history of a
case: never from a card, and never only from the record the card names."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from policy.appeals import HEARERS
from policy.decisions import AppealOutcome, AppealRoute, ReviewOutcome
from policy.permissions import Case, Facts, Hearing, Step, StepKind
from policy.roles import Role
from storage.appealable import restrictions_appealed
from storage.models import Appeal, Decision, Incident, Restriction, Review, ServiceArea


def _lines(restrictions: dict[int, int | None]) -> dict[int, int]:
    """Each restriction's line: the first restriction of the chain it replaces."""
    found: dict[int, int] = {}
    for rid in restrictions:
        first, seen = rid, {rid}
        while (before := restrictions.get(first)) is not None and before not in seen:
            first = before
            seen.add(first)
        found[rid] = first
    return found


async def _area_key(session: AsyncSession, area_id: int) -> str:
    return await session.scalar(select(ServiceArea.key).where(ServiceArea.id == area_id)) or ""


class _History:
    """One incident's case with its restrictions' lines and appeals, read once."""

    def __init__(
        self, case: Case, lines: dict[int, int], appeals: list[Appeal], appealed: dict[int, frozenset[int]]
    ) -> None:
        self.case, self.lines, self.appeals, self.appealed = case, lines, appeals, appealed

    def hearing(self, appeal: Appeal) -> Hearing:
        by_id = {a.id: a for a in self.appeals}
        earlier: set[int] = set()
        previous = by_id.get(appeal.previous_appeal_id) if appeal.previous_appeal_id else None
        while previous is not None and previous.id not in earlier:
            earlier.add(previous.id)
            previous = by_id.get(previous.previous_appeal_id) if previous.previous_appeal_id else None
        return Hearing(
            appeal.id,
            HEARERS[AppealRoute(appeal.route)] if appeal.route else None,
            self.appealed.get(appeal.id, frozenset()),
            frozenset(earlier),
            appeal.logged_by_id,
        )

    def overturned_by(self, line: int) -> Role | None:
        """The body whose appeal outcome overturned the line, if one did (the latest)."""
        found = None
        for a in self.appeals:
            # Upheld, from the customer's side: the decision, and the line, overturned.
            upheld = a.outcome == AppealOutcome.UPHELD.value and a.route is not None
            if upheld and line in self.appealed.get(a.id, frozenset()):
                found = HEARERS[AppealRoute(a.route)]
        return found


async def _history(session: AsyncSession, incident: Incident) -> _History:
    decided = (await session.scalars(select(Decision).where(Decision.incident_id == incident.id))).all()
    decision_ids = [d.id for d in decided]
    rows = (
        (
            await session.execute(
                select(Restriction.id, Restriction.replaces_id).where(
                    Restriction.decision_id.in_(decision_ids)
                )
            )
        ).all()
        if decision_ids
        else []
    )
    lines = _lines({rid: before for rid, before in rows})
    reviews = (
        (
            await session.scalars(
                select(Review).where(Review.restriction_id.in_(list(lines))).order_by(Review.id)
            )
        ).all()
        if lines
        else []
    )
    appeals = list(
        (
            await session.scalars(select(Appeal).where(Appeal.incident_id == incident.id).order_by(Appeal.id))
        ).all()
    )
    appealed = {
        appeal_id: {lines.get(rid, rid) for rid in rids}
        for appeal_id, rids in (await restrictions_appealed(session, [a.id for a in appeals])).items()
    }
    steps = [Step(StepKind.DECIDED, d.decided_by_id, d.deciding_body) for d in decided]
    steps += [
        Step(
            StepKind.REINSTATED if v.outcome == ReviewOutcome.REINSTATE.value else StepKind.REVIEWED,
            v.reviewer_id,
            "reviewer",
            frozenset({lines.get(v.restriction_id, v.restriction_id)}),
        )
        for v in reviews
    ]
    steps += [
        Step(StepKind.HEARD_APPEAL, a.outcome_by_id, a.route, frozenset(appealed.get(a.id, ())), a.id)
        for a in appeals
        if a.outcome_by_id is not None
    ]
    case = Case(
        await _area_key(session, incident.service_area_id),
        incident.reporter_id,
        tuple(steps),
        named_decider=incident.named_decider_id,
    )
    return _History(case, lines, appeals, {k: frozenset(v) for k, v in appealed.items()})


async def for_incident(session: AsyncSession, incident_id: int | None) -> Facts:
    incident = await session.get(Incident, incident_id) if incident_id is not None else None
    if incident is None:
        return Facts()
    return Facts(case=(await _history(session, incident)).case)


async def for_restriction(session: AsyncSession, restriction: Restriction | None) -> Facts:
    """The case a restriction belongs to, the line it is in, and whether an appeal overturned it."""
    if restriction is None:
        return Facts()
    decision = await session.get(Decision, restriction.decision_id)
    incident = await session.get(Incident, decision.incident_id) if decision else None
    if incident is None:
        return Facts()
    history = await _history(session, incident)
    line = history.lines.get(restriction.id, restriction.id)
    return Facts(case=history.case, line=line, overturned_by=history.overturned_by(line))


async def for_appeal(session: AsyncSession, appeal: Appeal | None) -> Facts:
    incident = await session.get(Incident, appeal.incident_id) if appeal is not None else None
    if appeal is None or incident is None:
        return Facts()
    history = await _history(session, incident)
    return Facts(case=history.case, hearing=history.hearing(appeal))


async def for_customer(session: AsyncSession, customer_id: int | None) -> Facts:
    """Every case of the customer, by service and reporter (enough to say whose record it is)."""
    if customer_id is None:
        return Facts()
    rows = (
        await session.execute(
            select(ServiceArea.key, Incident.reporter_id)
            .join(Incident, Incident.service_area_id == ServiceArea.id)
            .where(Incident.customer_id == customer_id)
            .order_by(Incident.id)
        )
    ).all()
    return Facts(cases=tuple(Case(key, reporter) for key, reporter in rows))
