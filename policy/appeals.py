"""Who hears an appeal against a decision, and by when it must reach the council.

The policy: immediate action by employees is considered "through the complaints handling
procedure"; "decisions taken by managers" by the Complaints Review Group; "decisions taken by the
Complaints Review Group" by the Chief Executive; and "the appeal process does not apply to action
taken by elected members". After the Chief Executive, or Stage 2 of the complaints handling
procedure, a customer who remains dissatisfied may go to the Scottish Public Services Ombudsman.

Every decision in the register (a first decision, a review that varies, a reinstatement, an
appeal's outcome, a complaint's response, an employee's immediate action) is a `Taken`: who took
it in what capacity, when, and when its letter went. From that alone follow the route and the
clock. Words are the customer's side: an appeal or complaint is upheld, partly upheld or not
upheld, and the decision appealed is then overturned, varied or confirmed.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from policy.decisions import AppealOutcome, AppealRoute, DecidingBody
from policy.roles import Role
from policy.working_days import add_months, add_working_days

ROUTE_LABELS: dict[AppealRoute, str] = {
    AppealRoute.COMPLAINTS_PROCEDURE: "the complaints handling procedure",
    AppealRoute.COMPLAINTS_REVIEW_GROUP: "the Complaints Review Group",
    AppealRoute.CHIEF_EXECUTIVE: "the Chief Executive",
}

# Who hears an appeal on each route.
HEARERS: dict[AppealRoute, Role] = {
    AppealRoute.COMPLAINTS_PROCEDURE: Role.COMPLAINTS_TEAM,
    AppealRoute.COMPLAINTS_REVIEW_GROUP: Role.COMPLAINTS_REVIEW_GROUP,
    AppealRoute.CHIEF_EXECUTIVE: Role.CHIEF_EXECUTIVE,
}

# The SPSO's model complaints handling procedure: six months to complain, a Stage 1 response in
# 5 working days, Stage 2 in 20; Stage 2 may be asked for within two months of the Stage 1
# response where that is later than the six months.
COMPLAINT_MONTHS = 6
STAGE_TWO_AFTER_RESPONSE_MONTHS = 2
STAGE_WORKING_DAYS = {1: 5, 2: 20}
STAGE_LABELS = {1: "Stage 1 (frontline response)", 2: "Stage 2 (investigation)"}


class Effect(StrEnum):
    """What an appeal's outcome does to the decision appealed."""

    OVERTURNED = "overturned"
    VARIED = "varied"
    CONFIRMED = "confirmed"


EFFECTS: dict[AppealOutcome, Effect] = {
    AppealOutcome.UPHELD: Effect.OVERTURNED,
    AppealOutcome.PARTLY_UPHELD: Effect.VARIED,
    AppealOutcome.NOT_UPHELD: Effect.CONFIRMED,
}
OUTCOME_LABELS: dict[AppealOutcome, str] = {
    AppealOutcome.UPHELD: "Upheld",
    AppealOutcome.PARTLY_UPHELD: "Partly upheld",
    AppealOutcome.NOT_UPHELD: "Not upheld",
}
EFFECT_LABELS: dict[Effect, str] = {
    Effect.OVERTURNED: "the decision is overturned",
    Effect.VARIED: "the decision is varied",
    Effect.CONFIRMED: "the decision is confirmed",
}


def outcome_words(outcome: AppealOutcome, route: AppealRoute) -> str:
    """ "Partly upheld: the decision is varied" for an appeal; a complaint's outcome alone."""
    if route is AppealRoute.COMPLAINTS_PROCEDURE:
        return OUTCOME_LABELS[outcome]
    return f"{OUTCOME_LABELS[outcome]}: {EFFECT_LABELS[EFFECTS[outcome]]}"


def in_a_line(route: str | None, outcome: str | None) -> str:
    """An appeal as the register's lists name it: "the Complaints Review Group: Partly upheld: the
    decision is varied", "...: open", or one the policy gave no route."""
    if route is None:
        return "Went no further: the policy gives it no route"
    where = AppealRoute(route)
    said = outcome_words(AppealOutcome(outcome), where) if outcome else "open"
    return f"{ROUTE_LABELS[where]}: {said}"


class Appealable(StrEnum):
    """The kinds of decision a customer may appeal or complain about."""

    IMMEDIATE_ACTION = "immediate_action"  # an employee ended the contact or asked them to leave
    DECISION = "decision"  # a manager's decision on an incident
    CONTINUATION = "continuation"  # a review that continued a restriction, told in a letter
    VARIATION = "variation"  # a review that varied a restriction
    REINSTATEMENT = "reinstatement"  # a lifted restriction put back
    APPEAL_OUTCOME = "appeal_outcome"  # the Complaints Review Group's or Chief Executive's
    COMPLAINT_RESPONSE = "complaint_response"  # a stage of the complaints handling procedure


class NotHeard(StrEnum):
    """Why a customer's appeal goes no further here: kept as a code, and told in a letter."""

    ELECTED_MEMBER = "elected_member"
    CHIEF_EXECUTIVE = "chief_executive"
    STAGE_TWO_DONE = "stage_two_done"


NOT_HEARD_REASONS: dict[NotHeard, str] = {
    NotHeard.ELECTED_MEMBER: "The appeal process does not apply to action taken by elected members.",
    NotHeard.CHIEF_EXECUTIVE: (
        "There is no further internal appeal against the Chief Executive's decision: the customer "
        "may take their complaint to the Scottish Public Services Ombudsman."
    ),
    NotHeard.STAGE_TWO_DONE: (
        "The complaints handling procedure is finished at Stage 2: the customer may take their "
        "complaint to the Scottish Public Services Ombudsman."
    ),
}


@dataclass(frozen=True)
class Clock:
    """The council's time limits and calendar."""

    appeal_working_days: int = 20  # to appeal, from the date of the decision's letter
    outcome_working_days: int = 20  # for the appeal's outcome, from the day it is logged
    holidays: Collection[date] = ()


@dataclass(frozen=True)
class Taken:
    """A decision as the register holds it. `letter_on`: the day its letter was sent, or until then
    produced (none: the customer is not written to about it). A complaint's response also names
    its `stage` and `action_on`, the day of the action complained about."""

    kind: Appealable
    capacity: DecidingBody
    taken_on: date
    letter_on: date | None = None
    stage: int | None = None
    action_on: date | None = None

    @property
    def dated(self) -> date:
        return self.letter_on or self.taken_on


@dataclass(frozen=True)
class Hearing:
    """Where an appeal against a decision goes, at which stage, and the last day to receive it
    in time (an appeal received later is still logged, marked late)."""

    route: AppealRoute
    time_limit: date
    stage: int | None = None


def appeal_by(letter_on: date, clock: Clock) -> date:
    """The last day to appeal a decision whose letter is dated `letter_on`: what the letter prints
    and what the register enforces."""
    return add_working_days(letter_on, clock.appeal_working_days, clock.holidays)


def hearing_for(taken: Taken, clock: Clock) -> Hearing | NotHeard:
    """The route, stage and time limit of an appeal against `taken`, by the capacity it was taken in."""
    if taken.capacity is DecidingBody.ELECTED_MEMBER:
        return NotHeard.ELECTED_MEMBER
    if taken.kind is Appealable.IMMEDIATE_ACTION:
        return Hearing(AppealRoute.COMPLAINTS_PROCEDURE, add_months(taken.taken_on, COMPLAINT_MONTHS), 1)
    if taken.kind is Appealable.COMPLAINT_RESPONSE:
        if taken.stage != 1:
            return NotHeard.STAGE_TWO_DONE
        began = taken.action_on or taken.taken_on
        limit = max(
            add_months(began, COMPLAINT_MONTHS), add_months(taken.dated, STAGE_TWO_AFTER_RESPONSE_MONTHS)
        )
        return Hearing(AppealRoute.COMPLAINTS_PROCEDURE, limit, 2)
    if taken.capacity is DecidingBody.COMPLAINTS_REVIEW_GROUP:
        return Hearing(AppealRoute.CHIEF_EXECUTIVE, appeal_by(taken.dated, clock))
    if taken.capacity is DecidingBody.MANAGER:
        return Hearing(AppealRoute.COMPLAINTS_REVIEW_GROUP, appeal_by(taken.dated, clock))
    return NotHeard.CHIEF_EXECUTIVE


def respond_by(hearing: Hearing, received: date, clock: Clock) -> date:
    """When the outcome is due: a complaint's stage has its own time, an appeal the council's target."""
    days = STAGE_WORKING_DAYS.get(hearing.stage or 0, clock.outcome_working_days)
    return add_working_days(received, days, clock.holidays)


def outcome_due(kept: date | None, logged_on: date, clock: Clock) -> date:
    """An open appeal's due day: the one kept when it was logged, or for one logged before the
    register kept it, the council's target from the day it was logged."""
    return kept or add_working_days(logged_on, clock.outcome_working_days, clock.holidays)


def body_of(route: AppealRoute) -> DecidingBody:
    """The capacity an appeal's outcome is taken in: the body that heard it."""
    return {
        AppealRoute.COMPLAINTS_PROCEDURE: DecidingBody.COMPLAINTS_TEAM,
        AppealRoute.COMPLAINTS_REVIEW_GROUP: DecidingBody.COMPLAINTS_REVIEW_GROUP,
        AppealRoute.CHIEF_EXECUTIVE: DecidingBody.CHIEF_EXECUTIVE,
    }[route]
