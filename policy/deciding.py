"""What a manager's decision must contain before it can be recorded.

Every decision needs reasons. Active management is normally only after the customer was warned:
a recorded restorative approach explained what may follow, within a window (12 months unless
the council sets another). Otherwise three different records are kept apart: the restorative
approaches tried (which steps, when, by whom), why they were not possible or appropriate, and,
only where the threat is so extreme that it demands it, why we act without prior warning.
Each restriction is the minimum needed, with instructions for front-line staff, a start, an
optional end, and a review date unless a review is inappropriate (recorded why).
"""

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from policy.categories import Category
from policy.decisions import DecisionKind, LetterFormat, RestorativeStep, RestrictionScope, RestrictionType

Problems = dict[str, str]


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class ReviewRules:
    default_months: int = 6
    max_months: int = 12

    def default_review(self, starts_on: date) -> date:
        return add_months(starts_on, self.default_months)

    def latest_review(self, starts_on: date) -> date:
        return add_months(starts_on, self.max_months)


@dataclass(frozen=True)
class RestrictionDraft:
    type: RestrictionType
    details: str
    scope: RestrictionScope
    frontline_instructions: str
    starts_on: date
    ends_on: date | None
    review_due_on: date | None
    no_review_reason: str | None


class PoliceOrLegal(StrEnum):
    """What a decision to involve the police or take legal action did: its letter says which."""

    POLICE = "police"
    LEGAL = "legal"
    BOTH = "both"


POLICE_OR_LEGAL_LABELS: dict[PoliceOrLegal, str] = {
    PoliceOrLegal.POLICE: "Reported to the police",
    PoliceOrLegal.LEGAL: "Legal action",
    PoliceOrLegal.BOTH: "Reported to the police and legal action",
}


@dataclass(frozen=True)
class DecisionDraft:
    kind: DecisionKind
    reasons: str  # internal, for the register
    customer_explanation: str | None = None  # what the letter tells the customer, written to them
    action_taken: PoliceOrLegal | None = None  # a police or legal decision: which
    # The customer's letters, as the form last said (none: the form did not ask).
    letter_format: LetterFormat | None = None
    letter_format_detail: str | None = None
    language: str | None = None
    restorative_steps: frozenset[RestorativeStep] = frozenset()
    reasonable_adjustments: str | None = None
    signposting: str | None = None
    follow_up_on: date | None = None
    restorative_not_possible_reason: str | None = None
    without_prior_warning_reason: str | None = None
    needs_considered: bool | None = None
    needs_considered_note: str | None = None
    police_reference: str | None = None
    restrictions: tuple[RestrictionDraft, ...] = field(default_factory=tuple)
    # Active management: restorative approaches tried before this decision (perhaps outside the
    # bot), when and by whom.
    prior_steps: frozenset[RestorativeStep] = frozenset()
    prior_on: date | None = None
    prior_by: str | None = None


WARNING_WINDOW_MONTHS = 12


def warned_on(
    steps: Iterable[tuple[str, date]], today: date, window_months: int = WARNING_WINDOW_MONTHS
) -> date | None:
    """The latest day, within the window, a recorded restorative approach explained to the
    customer what may follow if their behaviour does not change; None: not warned."""
    since = add_months(today, -window_months)
    days = [
        day
        for step, day in steps
        if step == RestorativeStep.EXPLAINED_CONSEQUENCES.value and since <= day <= today
    ]
    return max(days) if days else None


def warns(draft: DecisionDraft, today: date, window_months: int = WARNING_WINDOW_MONTHS) -> bool:
    """Whether the approaches this decision records as tried warned the customer in the window."""
    if draft.prior_on is None:
        return False
    steps = [(s.value, draft.prior_on) for s in draft.prior_steps]
    return warned_on(steps, today, window_months) is not None


def restorative_required(category: Category) -> bool:
    """Zero tolerance: category one may be managed without restorative approaches first."""
    return category is not Category.ONE


def problems(
    draft: DecisionDraft,
    *,
    category: Category,
    restorative_recorded: bool,
    today: date,
    reviews: ReviewRules = ReviewRules(),
    warning_months: int = WARNING_WINDOW_MONTHS,
) -> Problems:
    """Field name -> what is wrong, in words a manager can act on. Empty when it may be recorded.

    `restorative_recorded`: the customer counts as warned already: the register holds a
    restorative approach that explained what may follow, within the window (`warned_on`).
    """
    found: Problems = {}
    if not draft.reasons.strip():
        found["reasons"] = "Give the reasons for this decision: every decision needs them"
    if draft.letter_format is LetterFormat.OTHER and not draft.letter_format_detail:
        found["letter_format_detail"] = "Say which format the customer asked for, such as Braille or audio"
    if draft.kind is DecisionKind.RESTORATIVE_APPROACH:
        if not draft.restorative_steps:
            found["restorative_steps"] = "Record which restorative steps were taken"
        if draft.follow_up_on is not None and draft.follow_up_on < today:
            found["follow_up_on"] = "The follow-up date cannot be in the past"
        elif far := _too_far(draft.follow_up_on, today):
            found["follow_up_on"] = far
    if draft.kind is DecisionKind.ACTIVE_MANAGEMENT:
        found.update(
            _active_management(draft, category, restorative_recorded, today, reviews, warning_months)
        )
    return found


def _active_management(
    draft: DecisionDraft,
    category: Category,
    restorative_recorded: bool,
    today: date,
    reviews: ReviewRules,
    warning_months: int,
) -> Problems:
    found: Problems = {}
    if draft.needs_considered is None:
        found["needs_considered"] = (
            "Answer whether the customer's support needs and reasonable adjustments were considered"
        )
    elif not draft.needs_considered:
        found["needs_considered"] = (
            "Consider the customer's circumstances, support needs and reasonable adjustments "
            "before restricting contact"
        )
    if draft.prior_steps or draft.prior_on or (draft.prior_by or "").strip():
        if not draft.prior_steps:
            found["prior_steps"] = "Choose which restorative steps were taken"
        if draft.prior_on is None:
            found["prior_on"] = "Enter when they were taken"
        elif draft.prior_on > today:
            found["prior_on"] = "The date they were taken cannot be in the future"
        elif draft.prior_on < add_months(today, -12 * FURTHEST_AHEAD_YEARS):
            found["prior_on"] = "Check the date: it is more than ten years ago"
        if not (draft.prior_by or "").strip():
            found["prior_by"] = "Say who took them (a name or a role)"
    warned = restorative_recorded or warns(draft, today, warning_months)
    not_possible = (draft.restorative_not_possible_reason or "").strip()
    extreme = (draft.without_prior_warning_reason or "").strip()
    if not warned and not (not_possible or extreme):
        found["restorative_not_possible_reason"] = (
            f"No restorative approach recorded in the last {warning_months} months explained to "
            "the customer what may follow. Record the approaches tried (with 'Explaining "
            "potential actions'), or why they were not possible or appropriate"
            + ("" if restorative_required(category) else " (zero tolerance)")
            + ", or why the threat is so extreme that we act without prior warning"
        )
    if not draft.restrictions:
        found["restriction_1_type"] = "Choose at least one restriction"
    for number, restriction in enumerate(draft.restrictions, start=1):
        found.update(_restriction(number, restriction, today, reviews))
    return found


# The furthest ahead a decision may set a date. Restrictions are reviewed within months and the
# longest retention is ten years: a date beyond this is a slip of the keyboard (9999-12-31), and
# dates near the calendar's end break the arithmetic every later sweep does on them.
FURTHEST_AHEAD_YEARS = 10


def furthest_ahead(today: date) -> date:
    return add_months(today, 12 * FURTHEST_AHEAD_YEARS)


def _too_far(day: date | None, today: date) -> str | None:
    """What to say when `day` is further ahead than any decision may reach, or None."""
    if day is None or day <= furthest_ahead(today):
        return None
    latest = furthest_ahead(today).isoformat()
    return f"Check the date: no decision reaches more than {FURTHEST_AHEAD_YEARS} years ahead, to {latest}"


def _restriction(number: int, r: RestrictionDraft, today: date, reviews: ReviewRules) -> Problems:
    found: Problems = {}
    prefix = f"restriction_{number}_"
    far = {
        name: problem
        for name, day in (
            ("starts_on", r.starts_on),
            ("ends_on", r.ends_on),
            ("review_due_on", r.review_due_on),
        )
        if (problem := _too_far(day, today))
    }
    if far:
        # The other checks count months from these dates: they wait until the dates are in reach.
        return {prefix + name: problem for name, problem in far.items()}
    if not r.details.strip():
        found[prefix + "details"] = "Say exactly what this restriction allows and does not allow"
    if not r.frontline_instructions.strip():
        found[prefix + "frontline_instructions"] = (
            "Write what front-line staff should do when the customer makes contact"
        )
    if r.ends_on is not None and r.ends_on <= r.starts_on:
        found[prefix + "ends_on"] = "The end date must be after the start"
    if r.review_due_on is None:
        if not (r.no_review_reason or "").strip():
            found[prefix + "review_due_on"] = (
                "Set a review date, or tick 'no review' and record why a review is inappropriate"
            )
    elif r.review_due_on <= r.starts_on:
        found[prefix + "review_due_on"] = "The review date must be after the start"
    elif r.review_due_on > reviews.latest_review(r.starts_on):
        found[prefix + "review_due_on"] = (
            f"Review within {reviews.max_months} months of the start, by "
            f"{reviews.latest_review(r.starts_on).isoformat()}"
        )
    if r.starts_on < add_months(today, -12):
        found[prefix + "starts_on"] = "Check the start date: it is more than a year ago"
    return found
