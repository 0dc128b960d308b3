"""One place that says who may do what: every card action, dialog step and invoke names its rule.

Text commands declare theirs with `@command(allowed=...)`; everything a card can send is in
`PERMISSIONS`, verb -> the pure rule in `policy.permissions` and the kind of record it names. The
invoke router refuses a verb that is not here, so a new button cannot reach a handler without a
rule; `tests/test_permissions.py` checks every verb the cards produce is here. Each rule is judged
on facts read from the register's history of the case (`storage.case_facts`), and every refusal
goes through `dialogs.refusals`.
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from cards import appeal as appeal_cards
from cards import decision as decision_cards
from cards import records as record_cards
from cards import report as report_cards
from cards import review as review_cards
from cards.elements import CANCEL_VERB
from dialogs import refusals
from dialogs.turn import Actor, Services
from policy import permissions as rules
from policy.permissions import Facts, Rule, Verdict
from policy.roles import Roles


@dataclass(frozen=True)
class Permission:
    rule: Rule
    record_type: str  # what the step names: incident, restriction, appeal, customer, letter, none


def _table(record_type: str, rule: Rule, *verbs: str) -> dict[str, Permission]:
    return {verb: Permission(rule, record_type) for verb in verbs}


PERMISSIONS: dict[str, Permission] = {
    # Anyone may report and cancel their own dialog; the draft is theirs (checked by its token).
    **_table("none", rules.anyone, report_cards.OPEN_ACTION, report_cards.STEP_ACTION, CANCEL_VERB),
    # The managers' card: the keepers oversee (view it, name a manager), managers decide.
    **_table("incident", rules.view_incident, decision_cards.REFRESH),
    **_table("incident", rules.decide, decision_cards.FORM, decision_cards.SUBMIT),
    **_table("incident", rules.name_decider, decision_cards.NAME_FORM, decision_cards.NAME),
    **_table(
        "letter",
        rules.decide,
        decision_cards.LETTER_LINK,
        decision_cards.LETTER_SENT_FORM,
        decision_cards.LETTER_SENT,
        decision_cards.LETTER_NOT_APPROPRIATE_FORM,
        decision_cards.LETTER_NOT_APPROPRIATE,
    ),
    **_table("customer", rules.open_record, record_cards.RECORD),
    **_table("restriction", rules.view_incident, review_cards.REFRESH),
    **_table("restriction", rules.review, review_cards.FORM, review_cards.SUBMIT),
    **_table("restriction", rules.reinstate, record_cards.REINSTATE_FORM, review_cards.REINSTATE),
    # A restriction with no review comes before the keepers, who oversee it (they do not decide).
    **_table("restriction", rules.keepers_only, review_cards.OVERSEE_FORM, review_cards.OVERSEE),
    **_table("incident", rules.log_appeal, appeal_cards.LOG_FORM, appeal_cards.LOG),
    **_table("appeal", rules.see_appeal, appeal_cards.REFRESH),
    **_table("appeal", rules.hear_appeal, appeal_cards.OUTCOME_FORM, appeal_cards.OUTCOME),
    **_table("appeal", rules.appeal_letter, *appeal_cards.LETTER_VERBS),
}


def permission(verb: str) -> Permission | None:
    return PERMISSIONS.get(verb)


def judge(verb: str, actor: Actor, facts: Facts) -> Verdict:
    """The verb's rule on these facts; a verb with no rule is refused."""
    return allows(verb, actor.roles, actor.person_id, facts)


def allows(verb: str, roles: Roles, person_id: int, facts: Facts) -> Verdict:
    """The same for someone not acting in this turn (a letter link's holder)."""
    found = PERMISSIONS.get(verb)
    if found is None:
        return Verdict(rules.Refusal.ROLE)
    return found.rule(roles, person_id, facts)


async def check(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    verb: str,
    facts: Facts,
    record_id: int | None,
) -> bool:
    """Judge the verb; a refusal is recorded (committing the session, which has written nothing)."""
    if judge(verb, actor, facts):
        return True
    found = PERMISSIONS.get(verb)
    await refusals.record(
        session,
        services,
        actor,
        verb,
        record_type=found.record_type if found else "none",
        record_id=record_id,
    )
    return False
