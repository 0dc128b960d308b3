"""Cards of the report dialog, and what the reporter and managers see after a report."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cards.elements import (
    Card,
    Element,
    bullets,
    card,
    choice_set,
    container,
    date_input,
    facts,
    field_error,
    heading,
    open_dialog,
    submit,
    text,
    text_input,
    time_input,
    toggle,
)
from policy.categories import CATEGORIES, ZERO_TOLERANCE_STATEMENT, Category, behaviour_choices
from policy.channels import CHANNEL_LABELS
from policy.incidents import AFFECTED_LABELS, DESCRIPTION_MAX, IMMEDIATE_ACTION_RIGHT

TOGGLES = (
    "ended_contact",
    "left_premises",
    "police_called",
    "physical_violence",
    "weapon_or_animal",
    "wants_support",
)

DIALOG_TITLE = "Report an incident"
OPEN_ACTION = "report.open"
STEP_ACTION = "report.step"
STEPS = 5  # customer, what happened, behaviour and impact, action taken, check and send


def _go(token: str, step: str, go: str) -> dict[str, str]:
    return {"action": STEP_ACTION, "draft": token, "step": step, "go": go}


def _field(element: Element, errors: Mapping[str, str]) -> list[Element]:
    problem = errors.get(element["id"])
    return [element, field_error(problem)] if problem else [element]


def _frame(
    number: int,
    title: str,
    errors: Mapping[str, str],
    body: Sequence[Element],
    actions: Sequence[Element],
) -> Card:
    top: list[Element | None] = [
        text(f"Step {number} of {STEPS}", subtle=True, size="Small"),
        heading(title, size="Medium"),
    ]
    if errors:
        top.append(text("Please check the fields marked below.", color="Attention", weight="Bolder"))
    return card([*top, *body], actions)


def launcher_card(draft_started: str | None = None) -> Card:
    """The card `report` answers with: its button opens the dialog."""
    if draft_started:
        return card(
            [
                heading(DIALOG_TITLE, size="Medium"),
                text(
                    f"You have an unfinished report, last changed {draft_started}. It is kept for 24 hours."
                ),
            ],
            [
                open_dialog("Continue it", {"action": OPEN_ACTION, "resume": True}),
                open_dialog("Start again", {"action": OPEN_ACTION, "fresh": True}),
            ],
        )
    return card(
        [
            heading(DIALOG_TITLE, size="Medium"),
            text("Tell us about an upsetting or unacceptable contact. It takes about two minutes."),
            text("If you are in danger now, call 999 first.", subtle=True),
        ],
        [open_dialog(DIALOG_TITLE, {"action": OPEN_ACTION})],
    )


def customer_step(
    token: str,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    matches: Sequence[tuple[int, str]],
    searched: bool,
) -> Card:
    body: list[Element] = [
        text("Search the register first, so this incident joins the customer's history."),
        # Said before the search, not only after a refusal: a name or a detail alone finds nobody.
        text(
            "Give their name and one more detail: customer reference, postcode, email or phone "
            "(for example: Pat Jones AB1 2CD). Both must match.",
            subtle=True,
        ),
        *_field(
            text_input(
                "customer_query",
                "Name and customer reference, postcode, email or phone",
                value=values.get("customer_query"),
                max_length=200,
            ),
            errors,
        ),
    ]
    if matches:
        choices = [(str(i), label) for i, label in matches]
        choices.append(("new", "None of these: a new customer"))
        body += _field(
            choice_set(
                "customer_id",
                "Matching customers, best match first",
                choices,
                value=values.get("customer_id") or None,
                expanded=True,
            ),
            errors,
        )
    elif searched:
        body.append(
            text("No customer in the register matches both. Check them, or enter them below.", subtle=True)
        )
    if errors.get("customer_id") and not matches:
        body.append(field_error(errors["customer_id"]))
    body.append(
        container(
            [
                toggle(
                    "unidentified",
                    "I cannot identify the customer yet (an unknown caller, a social media account)",
                    value=values.get("unidentified") == "true",
                ),
                *_field(
                    text_input(
                        "known_as",
                        "What is known: a number, an account name, a description",
                        value=values.get("known_as"),
                        max_length=200,
                    ),
                    errors,
                ),
                text(
                    "A register keeper matches the report to the customer's record once they are known.",
                    subtle=True,
                ),
            ]
        )
    )
    body.append(
        container(
            [
                text("A new customer", weight="Bolder"),
                *_field(
                    text_input("new_name", "Name", value=values.get("new_name"), max_length=200),
                    errors,
                ),
                *_field(
                    text_input(
                        "new_reference",
                        "Customer reference, if known",
                        value=values.get("new_reference"),
                        max_length=64,
                    ),
                    errors,
                ),
                *_field(
                    text_input("new_email", "Email", value=values.get("new_email"), max_length=320),
                    errors,
                ),
                *_field(
                    text_input("new_phone", "Phone", value=values.get("new_phone"), max_length=64),
                    errors,
                ),
                *_field(
                    text_input("new_address", "Address", value=values.get("new_address"), max_length=500),
                    errors,
                ),
                *_field(
                    text_input("new_postcode", "Postcode", value=values.get("new_postcode"), max_length=10),
                    errors,
                ),
                *_field(
                    text_input(
                        "new_support_needs",
                        "Known support needs or reasonable adjustments",
                        value=values.get("new_support_needs"),
                        multiline=True,
                        max_length=2000,
                    ),
                    errors,
                ),
                *_field(
                    text_input(
                        "new_advocate",
                        "Advocate or representative, if any",
                        value=values.get("new_advocate"),
                        max_length=500,
                    ),
                    errors,
                ),
            ],
            style="emphasis",
        )
    )
    return _frame(
        1,
        "Customer",
        errors,
        body,
        [
            submit("Search", _go(token, "customer", "search")),
            submit("Next", _go(token, "customer", "next"), style="positive"),
        ],
    )


def what_step(
    token: str,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    areas: Sequence[tuple[str, str]],
    today: str,
) -> Card:
    categories = [(c.value, f"{t.label}. {t.description}") for c, t in CATEGORIES.items()]
    body: list[Element] = [
        *_field(
            date_input(
                "occurred_date",
                "Date it happened",
                value=values.get("occurred_date"),
                max_value=today,
            ),
            errors,
        ),
        *_field(
            time_input("occurred_time", "Time it happened", value=values.get("occurred_time")),
            errors,
        ),
        *_field(
            choice_set(
                "channel",
                "How the customer made contact",
                [(c.value, label) for c, label in CHANNEL_LABELS.items()],
                value=values.get("channel") or None,
            ),
            errors,
        ),
        *_field(
            choice_set(
                "service_area",
                "Service area",
                list(areas),
                value=values.get("service_area") or None,
            ),
            errors,
        ),
        *_field(
            choice_set(
                "category",
                "Category",
                categories,
                value=values.get("category") or None,
                expanded=True,
            ),
            errors,
        ),
    ]
    return _frame(
        2,
        "What happened",
        errors,
        body,
        [
            submit("Back", _go(token, "what", "back")),
            submit("Next", _go(token, "what", "next"), style="positive"),
        ],
    )


def behaviour_step(token: str, values: Mapping[str, str], errors: Mapping[str, str]) -> Card:
    category = CATEGORIES[Category(values["category"])]
    body: list[Element] = [text(category.label, weight="Bolder")]
    if category.category is Category.ONE:
        body.append(
            container(
                [
                    text("Zero tolerance", weight="Bolder", color="Attention"),
                    text(ZERO_TOLERANCE_STATEMENT),
                    text("You may end the contact at once. This report will be marked urgent."),
                ],
                style="attention",
            )
        )
    body += [
        *_field(
            choice_set(
                "behaviours",
                "The behaviours you saw (choose all that apply)",
                [(b.key, f"{b.title}: {b.description}") for b in behaviour_choices(category.category)],
                value=values.get("behaviours") or None,
                multi=True,
                expanded=True,
            ),
            errors,
        ),
        *_field(
            text_input(
                "other_behaviour",
                "Another behaviour, described (the policy's lists are not exhaustive)",
                value=values.get("other_behaviour"),
                max_length=500,
            ),
            errors,
        ),
        toggle(
            "by_representative",
            "Someone acting for the customer behaved this way (a representative)",
            value=values.get("by_representative") == "true",
        ),
        *_field(
            text_input(
                "representative",
                "Who acted for them: their role, such as advocate or relative",
                value=values.get("representative"),
                max_length=200,
            ),
            errors,
        ),
        *_field(
            text_input(
                "description",
                "What happened, in your own words",
                value=values.get("description"),
                multiline=True,
                max_length=DESCRIPTION_MAX,
                placeholder="Describe the behaviour, not the person. Avoid naming other people.",
            ),
            errors,
        ),
        *_field(
            text_input(
                "impact_on_staff",
                "The impact on you and other staff",
                value=values.get("impact_on_staff"),
                multiline=True,
                max_length=2000,
            ),
            errors,
        ),
        *_field(
            text_input(
                "impact_on_service",
                "The impact on the service",
                value=values.get("impact_on_service"),
                multiline=True,
                max_length=2000,
            ),
            errors,
        ),
        *_field(
            choice_set(
                "others_affected",
                "Who else was affected",
                [(p.value, label) for p, label in AFFECTED_LABELS.items()],
                value=values.get("others_affected") or None,
                multi=True,
                expanded=True,
            ),
            errors,
        ),
    ]
    return _frame(
        3,
        "What happened: behaviour and impact",
        errors,
        body,
        [
            submit("Back", _go(token, "behaviour", "back")),
            submit("Next", _go(token, "behaviour", "next"), style="positive"),
        ],
    )


def action_step(token: str, values: Mapping[str, str], errors: Mapping[str, str]) -> Card:
    body: list[Element] = [
        text(IMMEDIATE_ACTION_RIGHT, subtle=True),
        toggle("ended_contact", "I ended the contact", value=values.get("ended_contact") == "true"),
        toggle(
            "left_premises",
            "The customer left, or was asked to leave, the premises",
            value=values.get("left_premises") == "true",
        ),
        toggle("police_called", "The police were called", value=values.get("police_called") == "true"),
        toggle(
            "physical_violence",
            "There was physical violence (an assault)",
            value=values.get("physical_violence") == "true",
        ),
        toggle(
            "weapon_or_animal",
            "A weapon or a dangerous animal was involved",
            value=values.get("weapon_or_animal") == "true",
        ),
        *_field(
            text_input(
                "police_reference",
                "Police incident reference",
                value=values.get("police_reference"),
                max_length=64,
            ),
            errors,
        ),
        toggle(
            "wants_support",
            "I would like support after this",
            value=values.get("wants_support") == "true",
        ),
    ]
    for name in TOGGLES:
        if errors.get(name):
            body.append(field_error(errors[name]))
    return _frame(
        4,
        "Action taken",
        errors,
        body,
        [
            submit("Back", _go(token, "action", "back")),
            submit("Next", _go(token, "action", "next"), style="positive"),
        ],
    )


@dataclass(frozen=True)
class Summary:
    """The report as it will be sent, in words, for the check step and the notifications."""

    customer: str
    when: str
    channel: str
    service_area: str
    category: str
    behaviours: Sequence[str]
    description: str
    impact_on_staff: str | None
    impact_on_service: str | None
    others_affected: Sequence[str]
    immediate_action: Sequence[str]
    wants_support: bool
    urgent: bool
    # Contact details, known support needs and any advocate: what a manager must weigh.
    customer_details: Sequence[tuple[str, str | None]] = ()
    aggravating: Sequence[str] = ()  # physical violence, a weapon or dangerous animal
    representative: str | None = None  # someone acting for the customer who behaved so


def summary_body(summary: Summary) -> list[Element | None]:
    return [
        facts(
            [
                ("Customer", summary.customer),
                *summary.customer_details,
                ("When", summary.when),
                ("Contact by", summary.channel),
                ("Service area", summary.service_area),
                ("Category", summary.category),
                ("Others affected", ", ".join(summary.others_affected) or "None recorded"),
                ("Immediate action", ", ".join(summary.immediate_action) or "None"),
                ("Violence or weapons", ", ".join(summary.aggravating) or None),
                (
                    "Who behaved so",
                    f"A representative acting for the customer: {summary.representative}"
                    if summary.representative
                    else None,
                ),
            ]
        ),
        text("Behaviours seen", weight="Bolder"),
        bullets(summary.behaviours),
        text("What happened", weight="Bolder"),
        text(summary.description),
        facts(
            [
                ("Impact on staff", summary.impact_on_staff),
                ("Impact on the service", summary.impact_on_service),
            ]
        ),
    ]


def check_step(token: str, summary: Summary) -> Card:
    body = summary_body(summary)
    if summary.urgent:
        body.insert(
            0,
            text(
                "Category one: this report will be marked urgent.",
                color="Attention",
                weight="Bolder",
            ),
        )
    if summary.wants_support:
        body.append(text("You asked for support: we will tell you where to find it.", subtle=True))
    body.append(text("Nothing is stored in the register until you press Send.", subtle=True))
    return _frame(
        5,
        "Check and send",
        {},
        [e for e in body if e is not None],
        [
            submit("Back", _go(token, "check", "back")),
            submit("Send", _go(token, "check", "send"), style="positive"),
        ],
    )


def confirmation_card(
    reference: str, told: str, *, wants_support: bool, wellbeing_support: str, urgent: bool
) -> Card:
    """`told`: who the report has reached, or will reach once they can be (a sentence, no stop)."""
    body: list[Element | None] = [
        heading(f"Reported: {reference}", size="Medium", color="Good"),
        text("Thank you. Every incident is recorded, whatever follows."),
        text("What happens next", weight="Bolder"),
        text(
            f"{told}."
            + (" The report is marked urgent." if urgent else "")
            + " A manager will decide what to do, proportionately, and you will be told the "
            "outcome here."
        ),
        text("Adding information later", weight="Bolder"),
        text(f"Type **add to {reference}** followed by what you want to add, in this chat."),
    ]
    if wants_support:
        body += [text("Support for you", weight="Bolder"), text(wellbeing_support)]
    return card(body)


def note_card(reference: str, author: str, words: str) -> Card:
    return notes_card(reference, [(author, words)])


def notes_card(reference: str, notes: Sequence[tuple[str, str]]) -> Card:
    """Notes added to an incident, oldest first: a run of them waiting for a manager is one card."""
    body = [heading(notes_heading(reference, len(notes)), size="Medium")]
    for author, words in notes:
        body += [text(f"Added by {author}:", subtle=True), text(words)]
    return card(body)


def notes_heading(reference: str, count: int) -> str:
    return f"More information on {reference}" if count == 1 else f"{count} notes added to {reference}"
