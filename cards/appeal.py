"""Appeals: logging one, the hearing body's card (in the Complaints Review Group's channel, or a
1:1 card to the Chief Executive or the complaints team), and its outcome."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cards.decision import customer_explanation_fields, restriction_slot
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

LOG_FORM = "appeal.form"
LOG = "appeal.log"
REFRESH = "appeal.refresh"
OUTCOME_FORM = "appeal.outcome_form"
OUTCOME = "appeal.outcome"
LETTER_LINK = "appeal.letter_link"
LETTER_SENT_FORM = "appeal.letter_sent_form"
LETTER_SENT = "appeal.letter_sent"
LETTER_NOT_APPROPRIATE_FORM = "appeal.letter_not_appropriate_form"
LETTER_NOT_APPROPRIATE = "appeal.letter_not_appropriate"
LETTER_VERBS = (
    LETTER_LINK,
    LETTER_SENT_FORM,
    LETTER_SENT,
    LETTER_NOT_APPROPRIATE_FORM,
    LETTER_NOT_APPROPRIATE,
)

CONSIDERS = "Appeals consider only the arguments about the restrictions."
COMPLAINT_CONSIDERS = (
    "A complaint about an employee's immediate action is handled under the complaints handling "
    "procedure: Stage 1 within 5 working days, Stage 2 within 20."
)
# The words are the customer's side, the same in buttons, cards, letters and the register.
APPEAL_BUTTONS = {
    "not_upheld": "Not upheld (confirm the decision)",
    "partly_upheld": "Partly upheld (vary the restrictions)",
    "upheld": "Upheld (overturn the decision)",
}
COMPLAINT_BUTTONS = {"not_upheld": "Not upheld", "partly_upheld": "Partly upheld", "upheld": "Upheld"}
ESCALATE = "Customer still dissatisfied: Stage 2"


def _err(errors: Mapping[str, str], name: str) -> list[Element]:
    return [field_error(errors[name])] if name in errors else []


def log_form(
    incident_id: int,
    reference: str,
    appealable: Sequence[tuple[str, str]],
    restrictions: Sequence[tuple[str, str]],
    values: Mapping[str, str],
    errors: Mapping[str, str],
    today: str,
    notice: str | None = None,
) -> Card:
    """`appealable`: the decisions that can still be appealed, newest first, each with its route
    and time limit in its label."""
    body: list[Element | None] = [
        container([text(notice, weight="Bolder")], style="warning") if notice else None,
        heading(f"Log an appeal on {reference}", size="Medium"),
        text(CONSIDERS, subtle=True),
        choice_set(
            "against",
            "What is appealed or complained about",
            list(appealable),
            value=values.get("against") or (appealable[0][0] if appealable else None),
            expanded=True,
        ),
        *_err(errors, "against"),
        date_input("received_on", "Date received", value=values.get("received_on") or today, max_value=today),
        *_err(errors, "received_on"),
        text_input(
            "grounds",
            "The grounds, in the customer's words",
            value=values.get("grounds"),
            multiline=True,
            max_length=4000,
        ),
        *_err(errors, "grounds"),
    ]
    if restrictions:
        body += [
            choice_set(
                "restrictions",
                "Which restrictions are appealed (none ticked: all of the decision appealed)",
                list(restrictions),
                value=values.get("restrictions") or None,
                multi=True,
                expanded=True,
            ),
            *_err(errors, "restrictions"),
        ]
    return card(
        body, [dialog_submit("Log appeal", LOG, {"incident": incident_id}, style="positive"), dialog_cancel()]
    )


def log_launcher(incident_id: int, reference: str) -> Card:
    """What `appeal INC-...` answers: the form itself opens in a dialog."""
    return card(
        [heading(f"Log an appeal on {reference}", size="Medium"), text(CONSIDERS, subtle=True)],
        [open_form("Log an appeal", LOG_FORM, {"incident": incident_id})],
    )


@dataclass(frozen=True)
class AppealView:
    appeal_id: int
    reference: str
    route: str
    against: str
    customer: str
    received: str
    late_warning: str | None
    logged_by: str
    decision: Sequence[tuple[str, str | None]]
    restrictions: Sequence[str]
    grounds: str
    history: Sequence[str]
    status: str
    outcome: str | None = None
    letter_id: int | None = None
    letter_pending: bool = False
    can_hear: bool = True
    complaint: bool = False  # under the complaints handling procedure, not an appeal
    deadlines: Sequence[tuple[str, str | None]] = ()  # time limit, outcome due
    not_heard: str | None = None  # why it goes no further here
    incident_id: int | None = None
    escalate: bool = False  # a Stage 1 response the customer may take to Stage 2
    workspace_url: str | None = None  # the incident's page in the workspace tab


def appeal_card(view: AppealView, *, notice: str | None = None) -> Card:
    noun = "Complaint" if view.complaint else "Appeal"
    body: list[Element | None] = [
        container([text(notice, weight="Bolder")], style="warning") if notice else None,
        heading(f"{noun} on {view.reference}", size="Medium"),
        text(f"Against {view.against}. " + (f"Heard by {view.route}." if view.route else ""), subtle=True),
        text(COMPLAINT_CONSIDERS if view.complaint else CONSIDERS, weight="Bolder"),
        facts(
            [
                ("Customer", view.customer),
                ("Received", view.received),
                ("Logged by", view.logged_by),
                ("Status", view.status),
                *view.deadlines,
            ]
        ),
    ]
    if view.not_heard:
        body.append(container([text(view.not_heard, weight="Bolder")], style="attention"))
    if view.late_warning:
        body.append(container([text(view.late_warning, weight="Bolder")], style="attention"))
    body += [
        text("The decision appealed", weight="Bolder"),
        facts(view.decision),
        text("Restrictions appealed", weight="Bolder"),
        bullets(view.restrictions)
        if view.restrictions
        else text("None: " + ("an immediate action" if view.complaint else "no restriction"), subtle=True),
        text("The grounds, in the customer's words", weight="Bolder"),
        text(view.grounds),
        text("The customer's history in summary", weight="Bolder"),
        bullets(view.history) if view.history else text("Nothing else recorded", subtle=True),
        open_url_button("Open in the register", view.workspace_url) if view.workspace_url else None,
    ]
    actions: list[Element] = []
    if view.outcome or view.not_heard:
        if view.outcome:
            body.append(container([text(view.outcome, weight="Bolder", color="Good")], style="good"))
        if view.letter_id is not None:
            title = "Download letter" if view.not_heard else "Download outcome letter"
            actions += [
                execute(title, LETTER_LINK, {"appeal": view.appeal_id, "large": False}),
                execute("Large print", LETTER_LINK, {"appeal": view.appeal_id, "large": True}),
            ]
            if view.letter_pending:
                actions += [
                    execute("Record letter sent", LETTER_SENT_FORM, {"appeal": view.appeal_id}),
                    execute(
                        "Not appropriate to explain", LETTER_NOT_APPROPRIATE_FORM, {"appeal": view.appeal_id}
                    ),
                ]
        if view.escalate and view.incident_id is not None:
            actions.append(
                open_form(
                    ESCALATE, LOG_FORM, {"incident": view.incident_id, "against": f"appeal:{view.appeal_id}"}
                )
            )
    elif view.can_hear:
        buttons = COMPLAINT_BUTTONS if view.complaint else APPEAL_BUTTONS
        actions = [
            open_form(title, OUTCOME_FORM, {"appeal": view.appeal_id, "outcome": key})
            for key, title in buttons.items()
        ]
    else:
        body.append(
            text(
                "Only panel members who took no part in the decision or the report record the outcome.",
                subtle=True,
            )
        )
    return card(body, actions)


def outcome_form(
    view: AppealView,
    outcome: str,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    slots: Sequence[tuple[int, Mapping[str, str]]],
) -> Card:
    body: list[Element | None] = [
        text(
            f"{'Complaint' if view.complaint else 'Appeal'} on {view.reference} · {view.customer}",
            subtle=True,
        ),
        heading(
            f"Outcome: {(COMPLAINT_BUTTONS if view.complaint else APPEAL_BUTTONS)[outcome]}", size="Medium"
        ),
        text(COMPLAINT_CONSIDERS if view.complaint else CONSIDERS, subtle=True),
    ]
    if errors:
        body.append(text("Please check the fields marked below.", color="Attention", weight="Bolder"))
    body += [
        text_input(
            "reasons", "Reasons for the outcome", value=values.get("reasons"), multiline=True, max_length=4000
        ),
        *_err(errors, "reasons"),
        *customer_explanation_fields(values, errors),
    ]
    if outcome == "partly_upheld" and not view.complaint:
        body.append(
            text(
                "Each appealed restriction as it will be from now on: change at least one. Those left "
                "as they are continue unchanged.",
                subtle=True,
            )
        )
        if "restrictions" in errors:
            body.append(field_error(errors["restrictions"]))
        body += [restriction_slot(n, values, errors, defaults, optional=False) for n, defaults in slots]
    if outcome == "upheld" and not view.complaint:
        body.append(
            text("The appealed restrictions will be lifted, and the customer told in writing.", subtle=True)
        )
    return card(
        body,
        [
            dialog_submit(
                "Record outcome", OUTCOME, {"appeal": view.appeal_id, "outcome": outcome}, style="positive"
            ),
            dialog_cancel(),
        ],
    )
