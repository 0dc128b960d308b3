"""Reading a decision form as the card sent it: every value checked, nothing trusted."""

from collections.abc import Mapping
from datetime import date
from typing import Any

from cards.decision import NO_RESTRICTION
from dialogs.report_form import flag, multi
from policy.deciding import DecisionDraft, PoliceOrLegal, RestrictionDraft
from policy.decisions import DecisionKind, LetterFormat, RestorativeStep, RestrictionScope, RestrictionType

TEXT_LIMIT = 4000


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    return value.strip() if isinstance(value, str) else ""


def _date(
    raw: Mapping[str, Any], name: str, errors: dict[str, str], *, required: bool = False
) -> date | None:
    value = _text(raw, name)
    if not value:
        if required:
            errors[name] = "Enter a date"
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = "Enter a date like 2026-11-23"
        return None


def slots_of(raw: Mapping[str, Any], maximum: int) -> int:
    value = raw.get("slots", 1)
    return min(max(value, 1), maximum) if isinstance(value, int) and not isinstance(value, bool) else 1


def parse(
    kind: DecisionKind, raw: Mapping[str, Any], *, slots: int
) -> tuple[DecisionDraft | None, dict[str, str]]:
    """The draft decision, or the fields whose values cannot be read at all."""
    errors: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, str) and len(value) > TEXT_LIMIT:
            errors[name] = f"Keep this to {TEXT_LIMIT:,} characters"
    steps: set[RestorativeStep] = set()
    for value in multi(_text(raw, "restorative_steps")):
        try:
            steps.add(RestorativeStep(value))
        except ValueError:
            errors["restorative_steps"] = "Choose steps from the policy's list"
    needs = _text(raw, "needs_considered")
    if needs not in ("", "yes", "no"):
        errors["needs_considered"] = "Answer yes or no"
    restrictions: list[RestrictionDraft] = []
    if kind is DecisionKind.ACTIVE_MANAGEMENT:
        for number in range(1, slots + 1):
            restriction = _restriction(raw, number, errors)
            if restriction is not None:
                restrictions.append(restriction)
    action_taken = None
    if kind is DecisionKind.POLICE_OR_LEGAL and _text(raw, "action_taken"):
        try:
            action_taken = PoliceOrLegal(_text(raw, "action_taken"))
        except ValueError:
            errors["action_taken"] = "Choose the police, legal action, or both"
    # The customer's record holds these in short columns: a forged card's longer text is refused.
    for name, limit in (("letter_format_detail", 200), ("language", 60)):
        if len(_text(raw, name)) > limit:
            errors[name] = f"Keep this to {limit} characters"
    letter_format = None
    if _text(raw, "letter_format"):
        try:
            letter_format = LetterFormat(_text(raw, "letter_format"))
        except ValueError:
            errors["letter_format"] = "Choose a format from the list"
    follow_up = _date(raw, "follow_up_on", errors) if kind is DecisionKind.RESTORATIVE_APPROACH else None
    prior: set[RestorativeStep] = set()
    prior_on = None
    if kind is DecisionKind.ACTIVE_MANAGEMENT:
        for value in multi(_text(raw, "prior_steps")):
            try:
                prior.add(RestorativeStep(value))
            except ValueError:
                errors["prior_steps"] = "Choose steps from the policy's list"
        prior_on = _date(raw, "prior_on", errors)
    if errors:
        return None, errors
    draft = DecisionDraft(
        kind=kind,
        reasons=_text(raw, "reasons"),
        customer_explanation=_text(raw, "customer_explanation") or None,
        action_taken=action_taken,
        letter_format=letter_format,
        letter_format_detail=(_text(raw, "letter_format_detail") or None)
        if letter_format is LetterFormat.OTHER
        else None,
        language=_text(raw, "language") or None if letter_format is not None else None,
        restorative_steps=frozenset(steps) if kind is DecisionKind.RESTORATIVE_APPROACH else frozenset(),
        reasonable_adjustments=_text(raw, "reasonable_adjustments") or None,
        signposting=_text(raw, "signposting") or None,
        follow_up_on=follow_up,
        restorative_not_possible_reason=_text(raw, "restorative_not_possible_reason") or None,
        without_prior_warning_reason=_text(raw, "without_prior_warning_reason") or None,
        needs_considered={"yes": True, "no": False}.get(needs),
        needs_considered_note=_text(raw, "needs_considered_note") or None,
        police_reference=_text(raw, "police_reference") or None
        if kind is DecisionKind.POLICE_OR_LEGAL
        else None,
        restrictions=tuple(restrictions),
        prior_steps=frozenset(prior),
        prior_on=prior_on,
        prior_by=(_text(raw, "prior_by") or None) if kind is DecisionKind.ACTIVE_MANAGEMENT else None,
    )
    return draft, {}


def _restriction(raw: Mapping[str, Any], number: int, errors: dict[str, str]) -> RestrictionDraft | None:
    p = f"restriction_{number}_"
    kind = _text(raw, p + "type")
    if kind in ("", NO_RESTRICTION) and number > 1:
        return None  # an unused slot
    try:
        restriction_type = RestrictionType(kind)
    except ValueError:
        errors[p + "type"] = "Choose a restriction from the policy's list"
        return None
    try:
        scope = RestrictionScope(_text(raw, p + "scope"))
    except ValueError:
        errors[p + "scope"] = "Choose this service only, or council-wide"
        return None
    starts = _date(raw, p + "starts_on", errors, required=True)
    ends = _date(raw, p + "ends_on", errors)
    no_review = flag(_text(raw, p + "no_review"))
    review = None if no_review else _date(raw, p + "review_due_on", errors)
    if starts is None:
        return None
    return RestrictionDraft(
        type=restriction_type,
        details=_text(raw, p + "details"),
        scope=scope,
        frontline_instructions=_text(raw, p + "frontline_instructions"),
        starts_on=starts,
        ends_on=ends,
        review_due_on=review,
        no_review_reason=_text(raw, p + "no_review_reason") or None if no_review else None,
    )
