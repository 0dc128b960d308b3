"""Decisions, the restrictions they create, and the letters that follow, in the register."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, bindparam, case, cast, insert, literal, null, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from policy.deciding import DecisionDraft, RestrictionDraft, warned_on
from policy.decisions import (
    DecidingBody,
    DecisionKind,
    LetterFormat,
    LetterKind,
    RestrictionStatus,
    instructions_with_standing,
)
from policy.incidents import IncidentStatus
from policy.reviews import first_reminder
from storage.models import (
    Appeal,
    Customer,
    Decision,
    Incident,
    Letter,
    Person,
    RestorativeStepTaken,
    Restriction,
)

_CLAIM = (
    update(Incident.__table__)
    .where(Incident.id == bindparam("incident_id"), Incident.status == IncidentStatus.REPORTED.value)
    .values(status=IncidentStatus.DECIDED.value)
    .returning(Incident.id)
)


async def claim(session: AsyncSession, incident_id: int) -> bool:
    """Mark the incident decided; only one of several managers acting at once wins (True)."""
    claimed = (await session.execute(_CLAIM, {"incident_id": incident_id})).all()
    return len(claimed) == 1


async def first_for(session: AsyncSession, incident_id: int) -> Decision | None:
    return await session.scalar(
        select(Decision).where(Decision.incident_id == incident_id).order_by(Decision.id).limit(1)
    )


_decisions = Decision.__table__
_INSERT_DECISION = insert(_decisions).returning(_decisions.c.id)
_INSERT_STEPS = insert(RestorativeStepTaken.__table__)
_restrictions = Restriction.__table__
_INSERT_RESTRICTION = insert(_restrictions).returning(_restrictions.c.id)


async def record(
    session: AsyncSession,
    incident: Incident,
    draft: DecisionDraft,
    *,
    decided_by: int,
    body: DecidingBody,
    now: datetime,
    holidays: Collection[date] = (),
    reviewer_id: int | None = None,
    decided_on: date | None = None,
) -> tuple[Decision, list[Restriction]]:
    """Write the decision, its restorative steps and its restrictions (in the draft's order).
    `decided_on`: the day in the council's time zone (the UTC date otherwise).

    Core INSERTs: what is returned is not in the session, so change it with statements, not
    attributes."""
    values = dict(
        incident_id=incident.id,
        kind=draft.kind.value,
        deciding_body=body.value,
        decided_by_id=decided_by,
        decided_at=now,
        reasons=draft.reasons.strip(),
        customer_explanation=(draft.customer_explanation or "").strip() or None,
        action_taken=draft.action_taken.value if draft.action_taken else None,
        restorative_tried=bool(draft.restorative_steps) or None,
        restorative_not_possible_reason=draft.restorative_not_possible_reason or None,
        without_prior_warning=bool(draft.without_prior_warning_reason),
        without_prior_warning_reason=draft.without_prior_warning_reason or None,
        needs_considered=draft.needs_considered,
        needs_considered_note=draft.needs_considered_note or None,
        reasonable_adjustments=draft.reasonable_adjustments or None,
        signposting=draft.signposting or None,
        follow_up_on=draft.follow_up_on,
        follow_up_reminded_at=None,
        police_reference=draft.police_reference or None,
    )
    decision_id = (await session.execute(_INSERT_DECISION, values)).scalar_one()
    if draft.letter_format is not None:  # the form asked: the customer's letters follow it from now on
        await session.execute(
            update(Customer)
            .where(Customer.id == incident.customer_id)
            .values(
                letter_format=None
                if draft.letter_format is LetterFormat.STANDARD
                else draft.letter_format.value,
                letter_format_detail=draft.letter_format_detail,
                language=draft.language,
            )
            .execution_options(synchronize_session=False)
        )
    decision = Decision(id=decision_id, **values)
    # A restorative approach decided here is taken now, by its decider; approaches tried before
    # an active management decision keep the day and the person the manager recorded.
    taken = [(step, decided_on or now.date(), None) for step in sorted(draft.restorative_steps)]
    taken += [
        (step, draft.prior_on, (draft.prior_by or "").strip()[:200]) for step in sorted(draft.prior_steps)
    ]
    if taken:
        await session.execute(
            _INSERT_STEPS,
            [
                {
                    "decision_id": decision.id,
                    "customer_id": incident.customer_id,
                    "step": step.value,
                    "recorded_at": now,
                    "taken_on": on,
                    "taken_by": by,
                }
                for step, on, by in taken
            ],
        )
    rows = [
        _restriction_values(
            r,
            decision_id=decision.id,
            customer_id=incident.customer_id,
            service_area_id=incident.service_area_id,
            reviewer_id=reviewer_id or decided_by,
            holidays=holidays,
        )
        for r in draft.restrictions
    ]
    restrictions: list[Restriction] = []
    for row in rows:  # one at a time, each with its id back, in the draft's order
        restriction_id = (await session.execute(_INSERT_RESTRICTION, row)).scalar_one()
        restrictions.append(Restriction(id=restriction_id, **row))
    return decision, restrictions


def _restriction_values(
    r: RestrictionDraft,
    *,
    decision_id: int,
    customer_id: int,
    service_area_id: int,
    reviewer_id: int,
    holidays: Collection[date] = (),
    replaces_id: int | None = None,
) -> dict[str, Any]:
    return dict(
        decision_id=decision_id,
        customer_id=customer_id,
        service_area_id=service_area_id,
        type=r.type.value,
        details=r.details.strip(),
        scope=r.scope.value,
        frontline_instructions=instructions_with_standing(r.type, r.frontline_instructions),
        starts_on=r.starts_on,
        ends_on=r.ends_on,
        review_due_on=r.review_due_on,
        no_review_reason=None if r.review_due_on else (r.no_review_reason or "").strip(),
        reviewer_id=reviewer_id,
        status=RestrictionStatus.ACTIVE.value,
        ended_at=None,
        ended_reason=None,
        replaces_id=replaces_id,
        next_reminder_on=first_reminder(r.review_due_on, holidays),
        reminder_stage=None,
        # With no review, the register keepers see it from its start, then at least yearly.
        oversight_due_on=None if r.review_due_on else r.starts_on,
        overseen_at=None,
        overseen_by_id=None,
    )


def add_restriction(
    session: AsyncSession,
    r: RestrictionDraft,
    *,
    decision_id: int,
    customer_id: int,
    service_area_id: int,
    reviewer_id: int,
    holidays: Collection[date] = (),
    replaces_id: int | None = None,
) -> Restriction:
    restriction = Restriction(
        **_restriction_values(
            r,
            decision_id=decision_id,
            customer_id=customer_id,
            service_area_id=service_area_id,
            reviewer_id=reviewer_id,
            holidays=holidays,
            replaces_id=replaces_id,
        )
    )
    session.add(restriction)
    return restriction


def replace_restriction(
    session: AsyncSession,
    old: Restriction,
    new: RestrictionDraft,
    *,
    reviewer_id: int,
    holidays: Collection[date] = (),
) -> Restriction:
    """The restriction that takes an old one's place (varied, or reinstated): same decision,
    customer and service, pointing back at the one it replaces."""
    return add_restriction(
        session,
        new,
        decision_id=old.decision_id,
        customer_id=old.customer_id,
        service_area_id=old.service_area_id,
        reviewer_id=reviewer_id,
        holidays=holidays,
        replaces_id=old.id,
    )


LETTER_KINDS = {
    DecisionKind.RESTORATIVE_APPROACH,
    DecisionKind.ACTIVE_MANAGEMENT,
    DecisionKind.POLICE_OR_LEGAL,
}


def needs_letter(kind: DecisionKind) -> bool:
    """The customer is told in writing of any decision to apply the policy to them."""
    return kind in LETTER_KINDS


_INSERT_LETTER = insert(Letter.__table__).returning(Letter.__table__.c.id)


async def add_letter(
    session: AsyncSession,
    kind: LetterKind,
    *,
    customer_id: int,
    produced_by: int,
    now: datetime,
    decision_id: int | None = None,
    review_id: int | None = None,
    restriction_id: int | None = None,
    appeal_id: int | None = None,
) -> Letter:
    """A letter the customer is owed; its sending (or why not) is recorded on it later. Written
    with a Core INSERT: the letter returned is not in the session."""
    values = dict(
        kind=kind.value,
        customer_id=customer_id,
        decision_id=decision_id,
        review_id=review_id,
        restriction_id=restriction_id,
        appeal_id=appeal_id,
        produced_at=now,
        produced_by_id=produced_by,
        sent_on=None,
        method=None,
        not_appropriate_reason=None,
        recorded_by_id=None,
        recorded_at=None,
        reminded_at=None,
    )
    # What the caller added is written first: the letter may point at a review not yet written.
    await session.flush()
    letter_id = (await session.execute(_INSERT_LETTER, values)).scalar_one()
    return Letter(id=letter_id, **values)


async def letter_for(session: AsyncSession, decision_id: int) -> Letter | None:
    """The letter telling the customer of the decision itself (reviews write letters of their own)."""
    return await session.scalar(
        select(Letter).where(Letter.decision_id == decision_id, Letter.kind == LetterKind.DECISION.value)
    )


async def restrictions_of(session: AsyncSession, decision_id: int) -> list[Restriction]:
    return list(
        (
            await session.scalars(
                select(Restriction).where(Restriction.decision_id == decision_id).order_by(Restriction.id)
            )
        ).all()
    )


async def record_letter_outcome(
    session: AsyncSession,
    letter_id: int,
    *,
    by: int,
    now: datetime,
    sent_on: date | None = None,
    method: str | None = None,
    not_appropriate_reason: str | None = None,
) -> bool:
    """Record *letter sent* or *not appropriate to explain*, once; False if already recorded."""
    result = await session.execute(
        update(Letter)
        .where(
            Letter.id == letter_id,
            Letter.sent_on.is_(None),
            Letter.not_appropriate_reason.is_(None),
        )
        .values(
            sent_on=sent_on,
            method=method,
            not_appropriate_reason=not_appropriate_reason,
            recorded_by_id=by,
            recorded_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


# --- the customer's history, as a manager weighs it ---------------------------------------------


@dataclass(frozen=True)
class PastIncident:
    reference: str
    occurred_at: datetime
    category: str
    status: str


@dataclass(frozen=True)
class PastRestriction:
    type: str
    status: str
    starts_on: date
    ends_on: date | None


@dataclass(frozen=True)
class PastAppeal:
    route: str
    status: str
    outcome: str | None


@dataclass(frozen=True)
class PastStep:
    """A restorative step recorded for the customer: taken on a day (that of the decision which
    recorded it, unless the manager gave the day it was taken before), by someone named if it was
    taken outside the bot."""

    step: str
    recorded_at: datetime
    taken_on: date | None
    taken_by: str | None

    def day(self, zone: Any) -> date:
        return self.taken_on or self.recorded_at.astimezone(zone).date()


@dataclass(frozen=True)
class History:
    incidents: list[PastIncident]
    restorative_steps: list[PastStep]
    restrictions: list[PastRestriction]
    appeals: list[PastAppeal]

    def warned_on(self, today: date, zone: Any, window_months: int) -> date | None:
        """When a recorded approach last explained what may follow, within the window."""
        return warned_on([(s.step, s.day(zone)) for s in self.restorative_steps], today, window_months)


# Built once, with only the columns the history shows: every incident card reads all four. They
# are read as one UNION ALL (a `part` column tells them apart): one statement where four were.
def _typed_null(type_: Any) -> Any:
    return cast(null(), type_)


_AT, _DAY = Incident.occurred_at.type, Restriction.starts_on.type
_TEXT = String()
_PAST = union_all(
    select(
        literal(0).label("part"),
        Incident.reference.label("a"),
        Incident.category.label("b"),
        Incident.status.label("c"),
        Incident.occurred_at.label("at"),
        _typed_null(_DAY).label("day"),
        _typed_null(_DAY).label("until"),
        Incident.id.label("row"),
    ).where(Incident.customer_id == bindparam("customer_id"), Incident.id != bindparam("excluding")),
    select(
        literal(1),
        RestorativeStepTaken.step,
        cast(RestorativeStepTaken.taken_by, _TEXT),
        _typed_null(_TEXT),
        RestorativeStepTaken.recorded_at,
        RestorativeStepTaken.taken_on,
        _typed_null(_DAY),
        RestorativeStepTaken.id,
    ).where(RestorativeStepTaken.customer_id == bindparam("customer_id")),
    select(
        literal(2),
        Restriction.type,
        Restriction.status,
        _typed_null(_TEXT),
        _typed_null(_AT),
        Restriction.starts_on,
        Restriction.ends_on,
        Restriction.id,
    ).where(Restriction.customer_id == bindparam("customer_id")),
    select(
        literal(3),
        Appeal.route,
        Appeal.status,
        Appeal.outcome,
        _typed_null(_AT),
        Appeal.received_on,
        _typed_null(_DAY),
        Appeal.id,
    )
    .join(Incident, Incident.id == Appeal.incident_id)
    .where(Incident.customer_id == bindparam("customer_id")),
).subquery("past")
# Each part in the order its own query had: incidents and restrictions newest first, steps
# oldest first, appeals by the day received, newest first; rows on the same day in the order
# they were written (as SQLite gave them; PostgreSQL's order among them was arbitrary).
_PAST_IN_ORDER = select(*_PAST.c).order_by(
    _PAST.c.part,
    case((_PAST.c.part == 0, _PAST.c.at)).desc(),
    case((_PAST.c.part == 1, _PAST.c.at)),
    case((_PAST.c.part.in_((2, 3)), _PAST.c.day)).desc(),
    _PAST.c.row,
)


async def history_of(
    session: AsyncSession, customer_id: int, *, excluding_incident: int | None = None
) -> History:
    """Everything the register holds of a customer's past, each part in its own order."""
    params = {"customer_id": customer_id, "excluding": excluding_incident or -1}
    history = History([], [], [], [])
    for part, a, b, c, at, day, until, _ in await session.execute(_PAST_IN_ORDER, params):
        if part == 0:
            history.incidents.append(PastIncident(a, at, b, c))
        elif part == 1:
            history.restorative_steps.append(PastStep(a, at, day, b))
        elif part == 2:
            history.restrictions.append(PastRestriction(a, b, day, until))
        else:
            history.appeals.append(PastAppeal(a, b, c))
    return history


async def name_of(session: AsyncSession, person_id: int | None) -> str:
    if person_id is None:
        return "someone"
    return _name(await session.get(Person, person_id))


async def names_of(session: AsyncSession, person_ids: Collection[int]) -> dict[int, str]:
    """`name_of` for several people, in one query."""
    found = {p.id: p for p in await session.scalars(select(Person).where(Person.id.in_(person_ids)))}
    return {person_id: _name(found.get(person_id)) for person_id in person_ids}


def display(person: Person) -> str:
    """A person as cards name them."""
    return _name(person)


def _name(person: Person | None) -> str:
    return (person.display_name or person.email or "a colleague") if person else "a colleague"
