"""The decisions on an incident a customer may appeal or complain about, as the register holds
them: each with who took it in what capacity, when its letter went, the restrictions in force it
concerns, and the appeals already made against it."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from policy.appeals import Appealable, Taken, body_of
from policy.decisions import (
    AppealOutcome,
    AppealRoute,
    DecidingBody,
    DecisionKind,
    LetterKind,
    RestrictionStatus,
    ReviewOutcome,
)
from storage.models import Appeal, AppealedRestriction, Decision, Incident, Letter, Restriction, Review

OPEN, DECIDED, NOT_HEARD = "open", "decided", "not_heard"
# A review's outcome that is a new decision for the customer (continuing one only where a letter
# told them of it).
REVIEW_DECISIONS = {
    ReviewOutcome.VARY.value: Appealable.VARIATION,
    ReviewOutcome.REINSTATE.value: Appealable.REINSTATEMENT,
    ReviewOutcome.CONTINUE.value: Appealable.CONTINUATION,
}


@dataclass(frozen=True)
class Decided:
    """One appealable decision. `step` names it as an appeal records it; `restrictions`: the ones
    in force it concerns, each as it stands now (after any variation); `appeals`: those logged
    against it, oldest first."""

    step: str
    taken: Taken
    taken_by: int
    decision: Decision | None = None
    review: Review | None = None
    earlier: Appeal | None = None  # the appeal whose outcome this is
    restrictions: tuple[Restriction, ...] = ()
    appeals: tuple[Appeal, ...] = field(default=())

    @property
    def open_appeal(self) -> Appeal | None:
        return next((a for a in self.appeals if a.status == OPEN), None)

    @property
    def heard(self) -> Appeal | None:
        return next((a for a in self.appeals if a.status == DECIDED), None)

    @property
    def can_be_appealed(self) -> bool:
        return self.open_appeal is None and self.heard is None


def letter_day(letter: Letter | None, zone: ZoneInfo) -> date | None:
    """The day the clock to appeal runs from, as the letter is dated: its sending once recorded;
    until then the date printed on the latest copy downloaded, or else its production."""
    if letter is None:
        return None
    return letter.sent_on or letter.dated_on or letter.produced_at.astimezone(zone).date()


def _current(restriction_ids: Iterable[int], by_id: dict[int, Restriction]) -> tuple[Restriction, ...]:
    """Each restriction as it stands now, following its replacements; those still in force."""
    replaced_by = {r.replaces_id: r for r in by_id.values() if r.replaces_id is not None}
    found: dict[int, Restriction] = {}
    for rid in restriction_ids:
        r = by_id.get(rid)
        seen: set[int] = set()
        while r is not None and r.id in replaced_by and r.id not in seen and r.status != "active":
            seen.add(r.id)
            r = replaced_by[r.id]
        if r is not None and r.status == RestrictionStatus.ACTIVE.value:
            found[r.id] = r
    return tuple(found[k] for k in sorted(found))


async def on_incident(session: AsyncSession, incident: Incident, zone: ZoneInfo) -> list[Decided]:
    """Every appealable decision on the incident, newest first."""
    decided = list(
        (
            await session.scalars(
                select(Decision).where(Decision.incident_id == incident.id).order_by(Decision.id)
            )
        ).all()
    )
    decision_ids = [d.id for d in decided]
    restrictions = (
        {
            r.id: r
            for r in (
                await session.scalars(select(Restriction).where(Restriction.decision_id.in_(decision_ids)))
            ).all()
        }
        if decision_ids
        else {}
    )
    reviews = (
        list(
            (
                await session.scalars(
                    select(Review)
                    .where(
                        Review.restriction_id.in_(list(restrictions)),
                        Review.outcome.in_(list(REVIEW_DECISIONS)),
                    )
                    .order_by(Review.id)
                )
            ).all()
        )
        if restrictions
        else []
    )
    appeals = list(
        (
            await session.scalars(select(Appeal).where(Appeal.incident_id == incident.id).order_by(Appeal.id))
        ).all()
    )
    appealed = await restrictions_appealed(session, [a.id for a in appeals])
    letters = list(
        (
            await session.scalars(
                select(Letter).where(
                    or_(Letter.decision_id.in_(decision_ids), Letter.appeal_id.in_([a.id for a in appeals]))
                )
            )
        ).all()
    )
    by_step: dict[str, list[Appeal]] = {}
    for a in appeals:
        if a.step:
            by_step.setdefault(a.step, []).append(a)
    occurred = incident.occurred_at.astimezone(zone).date()
    found: list[Decided] = []

    if incident.ended_contact or incident.left_premises:
        step = f"immediate_action:{incident.id}"
        capacity = DecidingBody(incident.reported_as or DecidingBody.EMPLOYEE.value)
        found.append(
            Decided(
                step,
                Taken(Appealable.IMMEDIATE_ACTION, capacity, occurred),
                incident.reporter_id,
                appeals=tuple(by_step.get(step, ())),
            )
        )
    for d in decided:
        if d.kind == DecisionKind.NO_FURTHER_ACTION.value:
            continue  # nothing of the policy was applied to the customer
        letter = next(
            (x for x in letters if x.decision_id == d.id and x.kind == LetterKind.DECISION.value), None
        )
        step = f"decision:{d.id}"
        originals = [r.id for r in restrictions.values() if r.decision_id == d.id and r.replaces_id is None]
        found.append(
            Decided(
                step,
                Taken(
                    Appealable.DECISION,
                    DecidingBody(d.deciding_body),
                    d.decided_at.astimezone(zone).date(),
                    letter_day(letter, zone),
                ),
                d.decided_by_id,
                decision=d,
                restrictions=_current(originals, restrictions),
                appeals=tuple(by_step.get(step, ())),
            )
        )
    review_letters = await _review_letters(session, [v.id for v in reviews])
    for v in reviews:
        kind = REVIEW_DECISIONS[v.outcome]
        if kind is Appealable.CONTINUATION:
            if v.id not in review_letters:
                continue
            made = restrictions.get(v.restriction_id)
        else:
            made = next((r for r in restrictions.values() if r.replaces_id == v.restriction_id), None)
        step = f"review:{v.id}"
        found.append(
            Decided(
                step,
                Taken(
                    kind,
                    DecidingBody(v.deciding_body),
                    v.done_at.astimezone(zone).date(),
                    letter_day(review_letters.get(v.id), zone),
                ),
                v.reviewer_id,
                decision=next((d for d in decided if made and d.id == made.decision_id), None),
                review=v,
                restrictions=_current([made.id] if made else [], restrictions),
                appeals=tuple(by_step.get(step, ())),
            )
        )
    for a in appeals:
        if a.status != DECIDED or a.route is None or a.outcome == AppealOutcome.UPHELD.value:
            continue  # an appeal upheld leaves the customer nothing to appeal
        route = AppealRoute(a.route)
        letter = next((x for x in letters if x.appeal_id == a.id), None)
        step = f"appeal:{a.id}"
        complaint = route is AppealRoute.COMPLAINTS_PROCEDURE
        found.append(
            Decided(
                step,
                Taken(
                    Appealable.COMPLAINT_RESPONSE if complaint else Appealable.APPEAL_OUTCOME,
                    body_of(route),
                    a.outcome_at.astimezone(zone).date() if a.outcome_at else a.received_on,
                    letter_day(letter, zone),
                    stage=a.stage,
                    action_on=occurred if complaint else None,
                ),
                a.outcome_by_id or a.logged_by_id,
                decision=next((d for d in decided if d.id == a.decision_id), None),
                earlier=a,
                restrictions=_current(appealed.get(a.id, ()), restrictions),
                appeals=tuple(by_step.get(step, ())),
            )
        )
    found.sort(key=lambda d: (d.taken.taken_on, _order(d)), reverse=True)
    return found


def _order(d: Decided) -> int:
    """On one day, later steps of a case come after earlier ones."""
    kinds = list(Appealable)
    position = kinds.index(d.taken.kind) * 1_000_000
    record = d.earlier or d.review or d.decision
    return position + (record.id if record is not None else 0)


async def _review_letters(session: AsyncSession, review_ids: list[int]) -> dict[int, Letter]:
    if not review_ids:
        return {}
    rows = (await session.scalars(select(Letter).where(Letter.review_id.in_(review_ids)))).all()
    return {letter.review_id: letter for letter in rows if letter.review_id is not None}


async def restrictions_appealed(session: AsyncSession, appeal_ids: list[int]) -> dict[int, list[int]]:
    """Each appeal's restrictions, by id."""
    found: dict[int, list[int]] = {}
    if appeal_ids:
        for appeal_id, rid in (
            await session.execute(
                select(AppealedRestriction.appeal_id, AppealedRestriction.restriction_id).where(
                    AppealedRestriction.appeal_id.in_(appeal_ids)
                )
            )
        ).all():
            found.setdefault(appeal_id, []).append(rid)
    return found


async def appealed_restrictions(session: AsyncSession, appeal: Appeal) -> list[Restriction]:
    return list(
        (
            await session.scalars(
                select(Restriction)
                .join(AppealedRestriction, AppealedRestriction.restriction_id == Restriction.id)
                .where(AppealedRestriction.appeal_id == appeal.id)
                .order_by(Restriction.id)
            )
        ).all()
    )
