"""Who may do what: the pure rules on a case's history, and the one table every verb is in."""

import importlib
import pkgutil
import re

import cards
from bot import invokes
from dialogs.permissions import PERMISSIONS
from policy.permissions import (
    Case,
    Facts,
    Hearing,
    Refusal,
    Step,
    StepKind,
    decide,
    hear_appeal,
    open_record,
    reinstate,
    review,
    sees_case,
)
from policy.roles import Role, RoleGrant, Roles

SAM, AMY, HAL, CERI, KIM, WES = 1, 2, 3, 4, 5, 6
MANAGER = Roles.of([RoleGrant(Role.MANAGER, "housing")])
WASTE = Roles.of([RoleGrant(Role.MANAGER, "waste")])
PANEL = Roles.of([RoleGrant(Role.COMPLAINTS_REVIEW_GROUP)])
PANEL_MANAGER = Roles.of([RoleGrant(Role.MANAGER, "housing"), RoleGrant(Role.COMPLAINTS_REVIEW_GROUP)])
KEEPER = Roles.of([RoleGrant(Role.REGISTER_KEEPER)])
DECIDED = Step(StepKind.DECIDED, AMY, "manager")


def _case(reporter: int = SAM, *steps: Step) -> Case:
    return Case("housing", reporter, (DECIDED, *steps))


# --- the rules ----------------------------------------------------------------------------------


def test_the_reporter_never_decides_reviews_lifts_or_reinstates_even_as_the_services_manager():
    facts = Facts(case=_case(HAL), line=10)
    for rule in (decide, review, reinstate):
        assert rule(MANAGER, HAL, facts).refusal is Refusal.REPORTER
        assert rule(MANAGER, AMY, facts)
        assert rule(WASTE, WES, facts).refusal is Refusal.ROLE
        # Keepers keep the register and oversee: they do not decide.
        assert rule(KEEPER, KIM, facts).refusal is Refusal.ROLE


def test_a_manager_a_keeper_names_decides_on_that_case_only():
    named = Facts(case=Case("housing", SAM, named_decider=WES))
    assert decide(WASTE, WES, named)
    assert decide(WASTE, WES, Facts(case=Case("housing", SAM))).refusal is Refusal.ROLE
    # Named, but not a manager (a keeper cannot name themselves into deciding).
    assert decide(KEEPER, KIM, Facts(case=Case("housing", SAM, named_decider=KIM))).refusal is Refusal.ROLE


def test_an_overturned_restriction_comes_back_only_through_the_body_that_heard_the_appeal():
    heard = Step(StepKind.HEARD_APPEAL, CERI, "complaints_review_group", frozenset({10}), 7)
    facts = Facts(case=_case(SAM, heard), line=10, overturned_by=Role.COMPLAINTS_REVIEW_GROUP)
    assert reinstate(MANAGER, AMY, facts).refusal is Refusal.APPEAL_BINDS  # the manager overruled
    assert reinstate(MANAGER, HAL, facts).refusal is Refusal.APPEAL_BINDS
    assert reinstate(KEEPER, KIM, facts).refusal is Refusal.APPEAL_BINDS
    assert reinstate(PANEL, CERI, facts)
    # A panel member who decided the case is still the manager overruled.
    assert reinstate(PANEL_MANAGER, AMY, facts).refusal is Refusal.APPEAL_BINDS


def test_nobody_hears_an_appeal_on_a_step_they_took_part_in():
    varied = Step(StepKind.REVIEWED, HAL, "reviewer", frozenset({10}))
    other_line = Step(StepKind.REVIEWED, CERI, "reviewer", frozenset({11}))
    case = _case(SAM, varied, other_line)
    hearing = Hearing(7, Role.COMPLAINTS_REVIEW_GROUP, frozenset({10}))
    facts = Facts(case=case, hearing=hearing)
    assert hear_appeal(PANEL_MANAGER, AMY, facts).refusal is Refusal.TOOK_PART  # decided
    assert hear_appeal(PANEL_MANAGER, HAL, facts).refusal is Refusal.TOOK_PART  # varied it
    assert hear_appeal(PANEL, CERI, facts)  # reviewed only a restriction not appealed
    assert hear_appeal(PANEL, SAM, facts).refusal is Refusal.REPORTER
    assert hear_appeal(MANAGER, HAL, facts).refusal is Refusal.ROLE


def test_who_heard_an_earlier_appeal_does_not_hear_the_next_one_in_its_chain():
    heard = Step(StepKind.HEARD_APPEAL, CERI, "complaints_review_group", frozenset(), 7)
    chief = Roles.of([RoleGrant(Role.CHIEF_EXECUTIVE), RoleGrant(Role.COMPLAINTS_REVIEW_GROUP)])
    facts = Facts(case=_case(SAM, heard), hearing=Hearing(8, Role.CHIEF_EXECUTIVE, earlier=frozenset({7})))
    assert hear_appeal(chief, CERI, facts).refusal is Refusal.TOOK_PART
    assert hear_appeal(chief, 99, facts)


def test_reporting_grants_no_sight_of_a_customers_record():
    housing, wes_reported = Case("housing", SAM), Case("waste", WES)
    assert open_record(WASTE, WES, Facts(cases=(housing, wes_reported))).refusal is Refusal.ROLE
    assert open_record(MANAGER, HAL, Facts(cases=(housing, wes_reported)))
    assert not sees_case(MANAGER, HAL, wes_reported)
    assert open_record(KEEPER, KIM, Facts(cases=(housing,)))
    assert open_record(KEEPER, KIM, Facts()).refusal is Refusal.NOT_FOUND


# --- the table ----------------------------------------------------------------------------------


def _card_verbs() -> dict[str, str]:
    """Every verb a card can send: the cards modules' verb constants (`area.step`)."""
    found: dict[str, str] = {}
    for module in pkgutil.iter_modules(cards.__path__):
        loaded = importlib.import_module(f"cards.{module.name}")
        for name, value in vars(loaded).items():
            if name.isupper() and isinstance(value, str) and re.fullmatch(r"[a-z_]+\.[a-z_]+", value):
                found[value] = f"cards.{module.name}.{name}"
    return found


def test_every_verb_a_card_can_send_has_a_rule():
    verbs = _card_verbs()
    assert len(verbs) > 20
    missing = {where for verb, where in verbs.items() if verb not in PERMISSIONS}
    assert not missing, f"declare who may use these in dialogs/permissions.py: {sorted(missing)}"


def test_every_rule_is_for_a_verb_a_card_sends_and_a_flow_handles():
    verbs = _card_verbs()
    assert set(PERMISSIONS) <= set(verbs)
    handled = [p for prefixes, _ in invokes.DIALOG_FLOWS for p in prefixes]
    for verb in PERMISSIONS:
        assert verb.startswith((*handled, "incident.", "letter.", "report.", "dialog.")), verb
