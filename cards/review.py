"""The reviewer's card: the restriction, its history, what happened since, and continue, vary or
lift; the register keepers' escalation; reinstating a lifted restriction."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cards.decision import (
    LETTER_LINK,
    LETTER_NOT_APPROPRIATE_FORM,
    LETTER_SENT_FORM,
    customer_explanation_fields,
    needs_fields,
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
    open_url_button,
    text,
    text_input,
)
from cards.records import REINSTATE_FORM as REINSTATE_FORM
from policy.decisions import ReviewOutcome

FORM = "review.form"
SUBMIT = "review.submit"
REFRESH = "review.refresh"
REINSTATE = "restriction.reinstate"
OVERSEE_FORM = "restriction.oversee_form"
OVERSEE = "restriction.oversee"

OUTCOME_TITLES: dict[ReviewOutcome, str] = {
    ReviewOutcome.CONTINUE: "Continue",
    ReviewOutcome.VARY: "Vary",
    ReviewOutcome.LIFT: "Lift",
}
# The notification's preview, true when it is sent. A card's heading names the date instead: a
# card is read for days after it arrives, and "due in 14 days" is false by the next morning.
STAGE_HEADINGS = {
    "due_soon": "A review is due in 14 days",
    "due": "A review is due today",
    "overdue": "A review is overdue",
}
STATUS_WORDS = {
    "active": "Active",
    "lifted": "Lifted",
    "expired": "Ended: it reached its end date",
    "varied": "Replaced by a variation",
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
    due_label: str = ""  # the review's date in words ("" when it has none, or has ended)
    overdue: bool = False
    can_reinstate: bool = False  # ended, and the person the card is for may reinstate it
    can_review: bool = True  # the person the card is for may continue, vary or lift it
    refresh_user_ids: Sequence[str] = ()  # Teams refreshes the card for these when they view it
    workspace_url: str | None = None  # the incident's page in the workspace tab


def _body(view: ReviewView) -> list[Element | None]:
    active = view.status == "active"
    return [
        facts(
            [
                ("Customer", view.customer),
                ("Restriction", view.label),
                ("Scope", view.scope),
                ("Period", view.period),
                # An ended restriction has no review to come.
                ("Review due", view.review_due if active else None),
                ("Status", STATUS_WORDS.get(view.status, view.status)),
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
        open_url_button("Open in the register", view.workspace_url) if view.workspace_url else None,
    ]


def _letter_actions(view: ReviewView) -> list[Element]:
    # The letter is the service's: whoever may review may download it and record its fate.
    if view.letter_id is None or not view.can_review:
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


def _refresh(view: ReviewView) -> Element | None:
    if not view.refresh_user_ids:
        return None
    return {
        # The review the card is about: once it is recorded, the card shows its outcome.
        "action": {
            "type": "Action.Execute",
            "verb": REFRESH,
            "data": {"restriction": view.restriction_id, "due": view.due_on},
        },
        "userIds": list(view.refresh_user_ids)[:60],
    }


def _heading(view: ReviewView) -> str:
    """What the card is about now, in words that stay true: dates, not "in 14 days"."""
    if view.status != "active":
        return "Restriction review: nothing to review now"
    if not view.due_label:
        return "Restriction review"
    if view.overdue:
        return f"A review is overdue: it was due by {view.due_label}"
    return f"A review is due by {view.due_label}"


def review_card(view: ReviewView, *, stage: str | None = None, notice: str | None = None) -> Card:
    """The card about a restriction's review, as things stand: outcome buttons only while it is
    active and unreviewed, Reinstate once it has ended (for whoever may), the letter's buttons."""
    top: list[Element | None] = []
    if notice:
        top.append(container([text(notice, weight="Bolder")], style="warning"))
    top.append(heading(_heading(view), size="Medium"))
    if view.outcome:
        top.append(container([text(view.outcome, weight="Bolder", color="Good")], style="good"))
        return card([*top, *_body(view)], _letter_actions(view), refresh=_refresh(view))
    if view.status != "active":
        top.append(
            container(
                [
                    text(
                        f"This restriction is no longer active: {STATUS_WORDS.get(view.status, view.status)}."
                    )
                ],
                style="emphasis",
            )
        )
        return card(
            [*top, *_body(view)], [*_ended_actions(view), *_letter_actions(view)], refresh=_refresh(view)
        )
    return card([*top, *_body(view)], _outcome_buttons(view), refresh=_refresh(view))


def _ended_actions(view: ReviewView) -> list[Element]:
    if not view.can_reinstate:
        return []
    return [open_form("Reinstate", REINSTATE_FORM, {"restriction": view.restriction_id})]


def _outcome_buttons(view: ReviewView) -> list[Element]:
    """Each outcome's form opens in a dialog, leaving the card as it is."""
    if not view.can_review:
        return []
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
            "reasons",
            "Reasons (internal, for the register)",
            value=values.get("reasons"),
            multiline=True,
            max_length=4000,
        ),
        *err("reasons"),
        *customer_explanation_fields(values, errors),
    ]
    if outcome is ReviewOutcome.CONTINUE:
        body.append(text("The customer is told in writing that it continues, and why.", subtle=True))
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
        body += needs_fields(values, errors)
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
    """To the register keepers, who oversee: they chase the reviewer, they do not review."""
    return card(
        [
            heading(f"A review is overdue: it was due by {view.due_label}", size="Medium", color="Attention"),
            text(
                f"The reviewer, {reviewer}, has not recorded the review of this restriction, 10 working "
                "days after it was due. Managers review: ask the reviewer, or another manager of the "
                "service, to record it."
            ),
            *_body(view),
        ],
        refresh=_refresh(view),
    )


def ended_card(view: ReviewView, why: str) -> Card:
    """No review date (there is none to come), and Reinstate if engagement deteriorates."""
    return card(
        [
            heading("A restriction has ended", size="Medium"),
            text(why),
            text("If engagement deteriorates, it may be reinstated, and the customer is told.", subtle=True),
            *_body(view),
        ],
        _ended_actions(view),
        refresh=_refresh(view),
    )


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
        *needs_fields(values, errors),
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


# --- restrictions with no review, before the register keepers -----------------------------------


def oversight_card(view: ReviewView, no_review_reason: str, last: str | None) -> Card:
    """A restriction with no review, as the register keepers see it at least yearly."""
    return card(
        [
            heading("A restriction with no review: the register keepers' oversight", size="Medium"),
            text(
                "It is never reviewed by its service. At least once a year the register keepers look "
                "at it: is it still needed, and still the minimum needed?",
                subtle=True,
            ),
            facts([("Why no review", no_review_reason), ("Last overseen", last or "Never")]),
            *_body(view),
        ],
        [open_form("Record oversight", OVERSEE_FORM, {"restriction": view.restriction_id})]
        if view.status == "active"
        else [],
    )


OVERSIGHT_OUTCOMES = {
    "stands": "Still needed without a review: look again in a year",
    "review": "Ask its reviewer to review it now (they continue, vary or lift it)",
}


def oversight_form(view: ReviewView, values: Mapping[str, str], errors: Mapping[str, str]) -> Card:
    body: list[Element | None] = [
        text(f"{view.customer} · {view.label}", subtle=True),
        heading("Record the keepers' oversight", size="Medium"),
    ]
    if errors:
        body.append(text("Please check the fields marked below.", color="Attention", weight="Bolder"))
    body += [
        choice_set(
            "outcome",
            "What the register keepers found",
            list(OVERSIGHT_OUTCOMES.items()),
            value=values.get("outcome") or "stands",
            expanded=True,
        ),
        *([field_error(errors["outcome"])] if "outcome" in errors else []),
        text_input("note", "What was looked at", value=values.get("note"), multiline=True, max_length=2000),
        *([field_error(errors["note"])] if "note" in errors else []),
    ]
    return card(
        body,
        [
            dialog_submit(
                "Record oversight", OVERSEE, {"restriction": view.restriction_id}, style="positive"
            ),
            dialog_cancel(),
        ],
    )


def no_review_queue_card(lines: Sequence[tuple[int, str, str, bool]]) -> Card:
    """Every active restriction with no review: (id, what, when next before the keepers, due)."""
    if not lines:
        return card(
            [
                heading("Restrictions with no review", size="Medium"),
                text("No active restriction is without a review."),
            ]
        )
    body: list[Element | None] = [
        heading("Restrictions with no review", size="Medium"),
        text("Each comes before the register keepers at least yearly. Those due are first.", subtle=True),
    ]
    for _, what, when, due in lines:
        body.append(
            container(
                [
                    text(what, weight="Bolder"),
                    text(when, color="Attention" if due else "Default", subtle=not due),
                ]
            )
        )
    actions = [
        open_form(f"Oversee: {what[:60]}", OVERSEE_FORM, {"restriction": rid})
        for rid, what, _, due in lines
        if due
    ][:5]
    return card(body, actions)
