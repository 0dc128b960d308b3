"""The reviewer's card: the restriction, its history, what happened since, and continue, vary or
lift; the register keepers' escalation; reinstating a lifted restriction."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cards.decision import (
    LETTER_LINK,
    LETTER_NOT_APPROPRIATE_FORM,
    LETTER_SENT_FORM,
    customer_explanation_fields,
    restriction_slot,
    shown,
)
from cards.elements import (
    Card,
    Element,
    bullets,
    card,
    choice_set,
    container,
    date_input,
    dialog_cancel,
    dialog_submit,
    execute,
    facts,
    field_error,
    heading,
    open_form,
    text,
    text_input,
)
from cards.records import REINSTATE_FORM as REINSTATE_FORM
from policy.decisions import ReviewOutcome

FORM = "review.form"
SUBMIT = "review.submit"
REFRESH = "review.refresh"
REINSTATE = "restriction.reinstate"

OUTCOME_TITLES: dict[ReviewOutcome, str] = {
    ReviewOutcome.CONTINUE: "Continue",
    ReviewOutcome.VARY: "Vary",
    ReviewOutcome.LIFT: "Lift",
}
STAGE_HEADINGS = {
    "due_soon": "A review is due in 14 days",
    "due": "A review is due today",
    "overdue": "A review is overdue",
}


@dataclass(frozen=True)
class ReviewView:
    restriction_id: int
    customer: str
    label: str
    details: str
    scope: str
    instructions: str
    period: str
    review_due: str
    status: str
    reference: str  # the incident that led to it
    history: Sequence[str]  # earlier reviews and the restrictions it replaced
    incidents_since: Sequence[str]
    due_on: str = ""  # ISO date of the review this card is about: a stale card names an old one
    letter_id: int | None = None
    letter_pending: bool = False
    outcome: str | None = None  # once reviewed: what was decided


def _body(view: ReviewView) -> list[Element | None]:
    return [
        facts(
            [
                ("Customer", view.customer),
                ("Restriction", view.label),
                ("Scope", view.scope),
                ("Period", view.period),
                ("Review due", view.review_due),
                ("Status", view.status),
                ("From incident", view.reference),
            ]
        ),
        text(view.details),
        text("Instructions for front-line staff", weight="Bolder", size="Small"),
        text(view.instructions),
        text("History", weight="Bolder"),
        # Both oldest first, and cut to the newest few: a card must stay within Teams' size limit.
        bullets(shown(view.history, newest_first=False))
        if view.history
        else text("No earlier reviews", subtle=True),
        text("Incidents since it began", weight="Bolder"),
        bullets(shown(view.incidents_since, newest_first=False))
        if view.incidents_since
        else text("None recorded", subtle=True),
    ]


def _letter_actions(view: ReviewView) -> list[Element]:
    if view.letter_id is None:
        return []
    actions = [
        execute("Download letter", LETTER_LINK, {"letter": view.letter_id, "large": False}),
        execute("Large print", LETTER_LINK, {"letter": view.letter_id, "large": True}),
    ]
    if view.letter_pending:
        actions += [
            execute("Record letter sent", LETTER_SENT_FORM, {"letter": view.letter_id}),
            execute("Not appropriate to explain", LETTER_NOT_APPROPRIATE_FORM, {"letter": view.letter_id}),
        ]
    return actions


def review_card(view: ReviewView, *, stage: str | None = None, notice: str | None = None) -> Card:
    top: list[Element | None] = []
    if notice:
        top.append(container([text(notice, weight="Bolder")], style="warning"))
    top.append(heading(STAGE_HEADINGS.get(stage or "", "Restriction review"), size="Medium"))
    if view.outcome:
        top.append(container([text(view.outcome, weight="Bolder", color="Good")], style="good"))
        return card([*top, *_body(view)], _letter_actions(view))
    return card([*top, *_body(view)], _outcome_buttons(view))


def _outcome_buttons(view: ReviewView) -> list[Element]:
    """Each outcome's form opens in a dialog, leaving the card as it is."""
    return [
        open_form(
            title, FORM, {"restriction": view.restriction_id, "outcome": outcome.value, "due": view.due_on}
        )
        for outcome, title in OUTCOME_TITLES.items()
    ]


def review_form(
    view: ReviewView,
    outcome: ReviewOutcome,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    *,
    next_review_default: str,
    restriction_defaults: Mapping[str, str],
) -> Card:
    def err(name: str) -> list[Element]:
        return [field_error(errors[name])] if name in errors else []

    body: list[Element | None] = [
        text(f"{view.customer} · {view.label}", subtle=True),
        heading(f"Review: {OUTCOME_TITLES[outcome].lower()}", size="Medium"),
    ]
    if errors:
        body.append(text("Please check the fields marked below.", color="Attention", weight="Bolder"))
    body += [
        text_input(
            "reasons", "Reasons (internal, for the register)", value=values.get("reasons"), multiline=True,
            max_length=4000,
        ),
        *err("reasons"),
        *customer_explanation_fields(values, errors),
    ]
    if outcome is ReviewOutcome.CONTINUE:
        body += [
            date_input(
                "next_review_on", "Next review by", value=values.get("next_review_on") or next_review_default
            ),
            *err("next_review_on"),
        ]
    if outcome is ReviewOutcome.VARY:
        body.append(
            text("The restriction as it will be from now on. The customer is told in writing.", subtle=True)
        )
        body.append(restriction_slot(1, values, errors, restriction_defaults, optional=False))
    if outcome is ReviewOutcome.LIFT:
        body += [
            text(
                "The policy allows lifting without telling the customer, but ombudsmen have found "
                "fault where people were never told their restrictions had ended.",
                subtle=True,
            ),
            choice_set(
                "notify_customer",
                "Tell the customer in writing?",
                [("yes", "Yes: produce a letter"), ("no", "No: record why not in the reasons")],
                value=values.get("notify_customer") or "yes",
                expanded=True,
            ),
            *err("notify_customer"),
        ]
    data = {"restriction": view.restriction_id, "outcome": outcome.value, "due": view.due_on}
    return card(
        body,
        [dialog_submit("Record review", SUBMIT, data, style="positive"), dialog_cancel()],
    )


def escalation_card(view: ReviewView, reviewer: str) -> Card:
    return card(
        [
            heading("A review is 10 working days overdue", size="Medium", color="Attention"),
            text(f"The reviewer, {reviewer}, has not recorded the review of this restriction."),
            *_body(view),
        ],
        _outcome_buttons(view),
    )


def ended_card(view: ReviewView, why: str) -> Card:
    return card([heading("A restriction has ended", size="Medium"), text(why), *_body(view)])


def reinstate_form(
    view: ReviewView, values: Mapping[str, str], errors: Mapping[str, str], defaults: Mapping[str, str]
) -> Card:
    body: list[Element | None] = [
        text(f"{view.customer} · {view.label} ({view.status})", subtle=True),
        heading("Reinstate a restriction", size="Medium"),
        text(
            "If engagement deteriorates, measures may be reinstated, and the customer is told in writing.",
            subtle=True,
        ),
    ]
    if errors:
        body.append(text("Please check the fields marked below.", color="Attention", weight="Bolder"))
    body += [
        text_input(
            "reasons", "Why it is reinstated", value=values.get("reasons"), multiline=True, max_length=4000
        ),
        *([field_error(errors["reasons"])] if "reasons" in errors else []),
        *customer_explanation_fields(values, errors),
        restriction_slot(1, values, errors, defaults, optional=False),
    ]
    return card(
        body,
        [
            dialog_submit("Reinstate", REINSTATE, {"restriction": view.restriction_id}, style="positive"),
            dialog_cancel(),
        ],
    )
