"""Who may take which step on a case, judged on the case's whole history.

Each rule is a pure function of the person's roles now, their id, and facts the register holds
about the case: who reported it, and every step since (decided, reviewed, lifted, reinstated,
heard an appeal), each with the capacity it was taken in. The policy's separation of duties holds
along the whole case: the reporter never decides, reviews, lifts, reinstates or hears an appeal;
nobody hears an appeal on a step they took part in; and an appeal's outcome binds later steps.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from policy.roles import Role, Roles


class StepKind(StrEnum):
    DECIDED = "decided"
    REVIEWED = "reviewed"  # continued, varied or lifted at a review
    REINSTATED = "reinstated"
    HEARD_APPEAL = "heard_appeal"


@dataclass(frozen=True)
class Step:
    """One step someone took on a case. `lines`: the restrictions it acted on, each named by the
    first of its line (a variation or reinstatement continues the line of what it replaces)."""

    kind: StepKind
    person_id: int
    capacity: str  # the deciding body, appeal route or role it was taken in
    lines: frozenset[int] = frozenset()
    appeal_id: int | None = None


@dataclass(frozen=True)
class Hearing:
    """An appeal as its hearing is judged: the route that hears it (none: the policy gives it no
    route, and it went no further), the lines it covers (none: the whole decision or immediate
    action), the earlier appeals of its chain, and who logged it."""

    appeal_id: int
    route_role: Role | None
    lines: frozenset[int] = frozenset()
    earlier: frozenset[int] = frozenset()
    logged_by: int | None = None


@dataclass(frozen=True)
class Case:
    """One incident's case: its service, its reporter, and what has been done on it."""

    service_area: str
    reporter_id: int
    steps: tuple[Step, ...] = ()
    # A manager a register keeper named to decide, where no manager of the service could.
    named_decider: int | None = None


@dataclass(frozen=True)
class Facts:
    """What a rule is judged on, read from the register for the record a step names.

    `line`: the restriction line acted on; `overturned_by`: the role of the body whose appeal
    outcome lifted that line, if one did; `hearing`: the appeal heard; `cases`: every case of the
    customer (for their full record)."""

    case: Case | None = None
    line: int | None = None
    overturned_by: Role | None = None
    hearing: Hearing | None = None
    cases: tuple[Case, ...] = ()


class Refusal(StrEnum):
    """Why a rule refused, in a fixed vocabulary (kept in the audit trail, never free text)."""

    ROLE = "role"  # the person holds no role that may
    REPORTER = "reporter"  # the reporter of the incident
    TOOK_PART = "took_part"  # took part in the step appealed
    APPEAL_BINDS = "appeal_binds"  # an appeal's outcome stands in the way
    NOT_FOUND = "not_found"  # no such record


@dataclass(frozen=True)
class Verdict:
    refusal: Refusal | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Verdict()
Rule = Callable[[Roles, int, Facts], Verdict]


def _manages_or_keeps(roles: Roles, case: Case) -> bool:
    return roles.manages(case.service_area) or roles.is_register_keeper


def _takes_decisions(roles: Roles, person_id: int, case: Case) -> bool:
    """Managers decide ("Decisions taken by managers"): the service's, or the manager a keeper
    named for this case. Register keepers keep the register and oversee; they do not decide."""
    named = case.named_decider == person_id and roles.has(Role.MANAGER)
    return roles.manages(case.service_area) or named


def anyone(roles: Roles, person_id: int, facts: Facts) -> Verdict:
    """Everyone in the council's tenant (reporting, a draft of one's own)."""
    return ALLOWED


def keepers_only(roles: Roles, person_id: int, facts: Facts) -> Verdict:
    return ALLOWED if roles.is_register_keeper else Verdict(Refusal.ROLE)


def decide(roles: Roles, person_id: int, facts: Facts) -> Verdict:
    """The service's managers, or the manager a keeper named; never the reporter. Also the letters
    of a decision."""
    case = facts.case
    if case is None:
        return Verdict(Refusal.NOT_FOUND)
    if case.reporter_id == person_id:
        return Verdict(Refusal.REPORTER)
    return ALLOWED if _takes_decisions(roles, person_id, case) else Verdict(Refusal.ROLE)


def view_incident(roles: Roles, person_id: int, facts: Facts) -> Verdict:
    """An incident's card: whoever may decide on it, and the register keepers who oversee it;
    never the reporter (the card shows the customer's history)."""
    case = facts.case
    if case is None:
        return Verdict(Refusal.NOT_FOUND)
    if case.reporter_id == person_id:
        return Verdict(Refusal.REPORTER)
    allowed = _takes_decisions(roles, person_id, case) or roles.is_register_keeper
    return ALLOWED if allowed else Verdict(Refusal.ROLE)


def name_decider(roles: Roles, person_id: int, facts: Facts) -> Verdict:
    """A register keeper names a manager to decide, where none of the service can; never the
    reporter."""
    case = facts.case
    if case is None:
        return Verdict(Refusal.NOT_FOUND)
    if case.reporter_id == person_id:
        return Verdict(Refusal.REPORTER)
    return ALLOWED if roles.is_register_keeper else Verdict(Refusal.ROLE)


def review(roles: Roles, person_id: int, facts: Facts) -> Verdict:
    """Continue, vary or lift at a review: as deciding (managers, never the reporter)."""
    return decide(roles, person_id, facts)


def reinstate(roles: Roles, person_id: int, facts: Facts) -> Verdict:
    """As deciding; and a restriction an appeal overturned comes back only through a new incident
    or the body that heard the appeal (not the manager it overruled)."""
    case = facts.case
    if case is None:
        return Verdict(Refusal.NOT_FOUND)
    if case.reporter_id == person_id:
        return Verdict(Refusal.REPORTER)
    if facts.overturned_by is not None:
        # The body that heard the appeal, through a member who took no other step on the case.
        acted = any(s.person_id == person_id and s.kind is not StepKind.HEARD_APPEAL for s in case.steps)
        return ALLOWED if roles.has(facts.overturned_by) and not acted else Verdict(Refusal.APPEAL_BINDS)
    return ALLOWED if _takes_decisions(roles, person_id, case) else Verdict(Refusal.ROLE)


def took_part(person_id: int, case: Case, hearing: Hearing) -> bool:
    """Whether the person took a step the appeal is about: the decision, a review, variation or
    reinstatement of a restriction it covers, or the hearing of an earlier appeal in its chain."""
    for step in case.steps:
        if step.person_id != person_id:
            continue
        if step.kind is StepKind.DECIDED:
            return True
        if step.kind is StepKind.HEARD_APPEAL and step.appeal_id in hearing.earlier:
            return True
        if step.kind in (StepKind.REVIEWED, StepKind.REINSTATED) and (
            not hearing.lines or step.lines & hearing.lines
        ):
            return True
    return False


def hear_appeal(roles: Roles, person_id: int, facts: Facts) -> Verdict:
    """The body the appeal is routed to; never the reporter, nor anyone who took part."""
    case, hearing = facts.case, facts.hearing
    if case is None or hearing is None:
        return Verdict(Refusal.NOT_FOUND)
    if hearing.route_role is None or not roles.has(hearing.route_role):
        return Verdict(Refusal.ROLE)
    if case.reporter_id == person_id:
        return Verdict(Refusal.REPORTER)
    if took_part(person_id, case, hearing):
        return Verdict(Refusal.TOOK_PART)
    return ALLOWED


def _logged_unrouted(roles: Roles, person_id: int, facts: Facts) -> bool:
    """An appeal with no route is the business of whoever logged it, while they still may log."""
    hearing = facts.hearing
    return (
        hearing is not None
        and hearing.route_role is None
        and hearing.logged_by == person_id
        and bool(log_appeal(roles, person_id, facts))
    )


def see_appeal(roles: Roles, person_id: int, facts: Facts) -> Verdict:
    """An appeal's card: the body it is routed to (members who may not hear it see it) and keepers;
    one with no route, whoever logged it."""
    hearing = facts.hearing
    if hearing is None:
        return Verdict(Refusal.NOT_FOUND)
    if roles.is_register_keeper or _logged_unrouted(roles, person_id, facts):
        return ALLOWED
    routed = hearing.route_role is not None and roles.has(hearing.route_role)
    return ALLOWED if routed else Verdict(Refusal.ROLE)


def appeal_letter(roles: Roles, person_id: int, facts: Facts) -> Verdict:
    """An appeal's outcome letter belongs to the body that heard it (who may hear) and keepers;
    the letter saying an appeal goes no further, to whoever logged it."""
    if roles.is_register_keeper and facts.hearing is not None:
        return ALLOWED
    if _logged_unrouted(roles, person_id, facts):
        return ALLOWED
    return hear_appeal(roles, person_id, facts)


def log_appeal(roles: Roles, person_id: int, facts: Facts) -> Verdict:
    """Appeals reach the register through the complaints team, the service's managers or a keeper."""
    case = facts.case
    if case is None:
        return Verdict(Refusal.NOT_FOUND)
    allowed = roles.has(Role.COMPLAINTS_TEAM) or _manages_or_keeps(roles, case)
    return ALLOWED if allowed else Verdict(Refusal.ROLE)


def sees_case(roles: Roles, person_id: int, case: Case) -> bool:
    """Whether someone may see a case in a customer's full record: a keeper any; a manager their
    own service's, except one they reported (reporting grants nothing)."""
    if roles.is_register_keeper:
        return True
    return roles.manages(case.service_area) and case.reporter_id != person_id


def visible_cases(roles: Roles, person_id: int, cases: tuple[Case, ...]) -> tuple[Case, ...]:
    return tuple(c for c in cases if sees_case(roles, person_id, c))


def open_record(roles: Roles, person_id: int, facts: Facts) -> Verdict:
    """A customer's full record: a keeper, or a manager with a case of their service to see."""
    if not facts.cases:
        return Verdict(Refusal.NOT_FOUND)
    return ALLOWED if visible_cases(roles, person_id, facts.cases) else Verdict(Refusal.ROLE)
