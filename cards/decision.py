"""The managers' card: the incident, the customer's history, the checklist, and the decision.

Its buttons are Universal Actions (`Action.Execute`): Teams sends them to the bot as
`adaptiveCard/action` invokes and shows the card the bot answers with, so the decision form
opens in the card itself and the card refreshes to the current state whenever a manager views it.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    toggle,
)
from cards.records import RECORD
from cards.report import Summary, summary_body
from policy.deciding import POLICE_OR_LEGAL_LABELS
from policy.decisions import (
    DECISION_LABELS,
    LETTER_FORMAT_LABELS,
    LETTER_METHODS,
    MANAGER_CHECKLIST,
    RESTORATIVE_STEP_LABELS,
    RESTRICTION_LABELS,
    SCOPE_LABELS,
    DecisionKind,
    LetterFormat,
)

REFRESH = "incident.refresh"
FORM = "decision.form"
SUBMIT = "decision.submit"
LETTER_LINK = "letter.link"
LETTER_SENT_FORM = "letter.sent_form"
LETTER_SENT = "letter.sent"
LETTER_NOT_APPROPRIATE_FORM = "letter.not_appropriate_form"
LETTER_NOT_APPROPRIATE = "letter.not_appropriate"
MAX_RESTRICTIONS = 5
# Choices that mean "nothing chosen": Adaptive Cards refuse a choice whose value is empty.
NO_RESTRICTION = "none"
REVIEWER_SELF = "self"
APPEAL_FORM = "appeal.form"
NAME_FORM = "decision.name_form"
NAME = "decision.name"


@dataclass(frozen=True)
class HistoryView:
    incidents: Sequence[str] = ()
    restorative_steps: Sequence[str] = ()
    restrictions: Sequence[str] = ()
    appeals: Sequence[str] = ()


@dataclass(frozen=True)
class RestrictionView:
    label: str
    details: str
    scope: str
    instructions: str
    period: str
    review: str
    state: str = "In force"  # or how it ended: varied or lifted at review or on appeal, expired


@dataclass(frozen=True)
class LetterView:
    id: int
    status: str
    pending: bool


@dataclass(frozen=True)
class DecisionView:
    kind: DecisionKind
    by: str
    at: str
    reasons: str
    facts: Sequence[tuple[str, str | None]] = ()
    restrictions: Sequence[RestrictionView] = ()
    letter: LetterView | None = None


@dataclass(frozen=True)
class IncidentView:
    incident_id: int
    customer_id: int
    reference: str
    summary: Summary
    reporter: str
    history: HistoryView
    decision: DecisionView | None = None
    can_decide: bool = False
    restorative_recorded: bool = False
    restorative_required: bool = True
    refresh_user_ids: Sequence[str] = field(default_factory=tuple)
    # Who may be named to review restrictions: the service's managers.
    reviewers: Sequence[tuple[str, str]] = field(default_factory=tuple)
    can_name: bool = False  # a register keeper, who may name a manager to decide
    waiting: str | None = None  # how long it has waited for a decision, while undecided
    named_decider: str | None = None  # the manager a keeper named, and why
    support_contact: str | None = None  # the reporter asked for support: where it is found
    workspace_url: str | None = None  # the incident's page in the workspace tab


def _refresh(view: IncidentView) -> Element | None:
    if not view.refresh_user_ids:
        return None
    return {
        "action": {
            "type": "Action.Execute",
            "verb": REFRESH,
            "data": {"incident": view.incident_id},
        },
        "userIds": list(view.refresh_user_ids),
    }


# Lines shown in each part of the history: a customer with hundreds of incidents must not take
# the card past Teams' message size limit (413), and the full record holds them all.
HISTORY_SHOWN = 10


def shown(lines: Sequence[str], *, newest_first: bool = True) -> list[str]:
    """The newest HISTORY_SHOWN lines, and how many earlier ones are left out."""
    left_out = len(lines) - HISTORY_SHOWN
    if left_out <= 0:
        return list(lines)
    earlier = f"and {left_out:,} earlier (see the full record)"
    if newest_first:
        return [*lines[:HISTORY_SHOWN], earlier]
    return [earlier, *lines[-HISTORY_SHOWN:]]


def _history(history: HistoryView) -> list[Element | None]:
    def section(title: str, lines: Sequence[str], *, newest_first: bool = True) -> list[Element]:
        return [
            text(title, weight="Bolder", size="Small"),
            bullets(shown(lines, newest_first=newest_first)) if lines else text("None recorded", subtle=True),
        ]

    return [
        text("The customer's history", weight="Bolder"),
        *section("Earlier incidents", history.incidents),
        *section("Restorative steps", history.restorative_steps, newest_first=False),  # oldest first
        *section("Restrictions, active or past", history.restrictions),
        *section("Appeals", history.appeals),
    ]


def _banner(notice: str | None) -> Element | None:
    return container([text(notice, weight="Bolder")], style="warning") if notice else None


def incident_card(view: IncidentView, *, notice: str | None = None) -> Card:
    body: list[Element | None] = [_banner(notice)]
    if view.summary.urgent:
        body.append(text("URGENT: category one, zero tolerance", color="Attention", weight="Bolder"))
    body += [
        heading(f"Incident {view.reference}", size="Medium"),
        text(f"Reported by {view.reporter} for {view.summary.service_area}.", subtle=True),
    ]
    if view.decision is None and view.waiting:
        body.append(text(f"Waiting {view.waiting} for a decision.", weight="Bolder", color="Attention"))
    if view.named_decider:
        body.append(facts([("Named by a register keeper to decide", view.named_decider)]))
    if view.support_contact:
        # What the reporter asked for reaches the people who can arrange it.
        body.append(
            container(
                [
                    text(f"{view.reporter} asked for support after this", weight="Bolder"),
                    text(
                        f"Contact {view.reporter} to offer a debrief, and point them to: "
                        f"{view.support_contact}"
                    ),
                ],
                style="accent",
            )
        )
    body += [*summary_body(view.summary), *_history(view.history)]
    actions: list[Element] = []
    if view.decision is None:
        body += [text("Before deciding", weight="Bolder"), bullets(MANAGER_CHECKLIST)]
        if view.can_decide:
            actions = [
                open_form(DECISION_LABELS[kind], FORM, {"incident": view.incident_id, "kind": kind.value})
                for kind in DecisionKind
            ]
        else:
            body.append(
                text(
                    "Managers decide: a manager of this service, or one a register keeper names where "
                    "none of the service can be reached or all are conflicted.",
                    subtle=True,
                )
            )
        if view.can_name:
            actions.append(open_form("Name a manager to decide", NAME_FORM, {"incident": view.incident_id}))
    else:
        body += _decision(view.decision)
        if view.can_decide:
            actions = [
                *_letter_actions(view.decision.letter),
                open_form("Log an appeal", APPEAL_FORM, {"incident": view.incident_id}),
            ]
    if view.can_decide or view.can_name:
        actions.append(open_form("Open full record", RECORD, {"customer": view.customer_id}))
        if view.workspace_url:
            body.append(open_url_button("Open in the register", view.workspace_url))
    return card(body, actions, refresh=_refresh(view))


def name_form(
    view: IncidentView,
    managers: Sequence[tuple[str, str]],
    values: Mapping[str, str],
    errors: Mapping[str, str],
) -> Card:
    """A register keeper names another manager to decide: keepers oversee, managers decide."""
    body: list[Element | None] = [
        text(f"Incident {view.reference} · {view.summary.category}", subtle=True),
        heading("Name a manager to decide", size="Medium"),
        text(
            "The policy gives decisions to managers. Where no manager of the service can be reached, "
            "or all are conflicted, name another manager. They are sent the card with its buttons; "
            "your naming and its reason are recorded.",
            subtle=True,
        ),
    ]
    if errors:
        body.append(text("Please check the fields marked below.", color="Attention", weight="Bolder"))
    body += _with_error(
        choice_set("manager", "The manager who decides", list(managers), value=values.get("manager") or None),
        errors,
    )
    body += _with_error(
        text_input(
            "reason",
            "Why: none of the service's managers can be reached, or all are conflicted",
            value=values.get("reason"),
            multiline=True,
            max_length=2000,
        ),
        errors,
    )
    return card(
        body,
        [
            dialog_submit("Name them", NAME, {"incident": view.incident_id}, style="positive"),
            dialog_cancel(),
        ],
    )


def _decision(decision: DecisionView) -> list[Element | None]:
    body: list[Element | None] = [
        container(
            [
                text(f"Decided: {DECISION_LABELS[decision.kind]}", weight="Bolder", color="Good"),
                text(f"By {decision.by}, {decision.at}.", subtle=True),
                text(decision.reasons),
                facts(decision.facts),
            ],
            style="good",
        )
    ]
    for number, r in enumerate(decision.restrictions, start=1):
        body.append(
            container(
                [
                    text(f"Restriction {number}: {r.label}", weight="Bolder"),
                    text(r.details),
                    facts(
                        [("State", r.state), ("Scope", r.scope), ("Period", r.period), ("Review", r.review)]
                    ),
                    text("Instructions for front-line staff", weight="Bolder", size="Small"),
                    text(r.instructions),
                ],
                style="emphasis",
            )
        )
    if decision.letter is not None:
        body.append(facts([("Letter to the customer", decision.letter.status)]))
    return body


def _letter_actions(letter: LetterView | None) -> list[Element]:
    if letter is None:
        return []
    actions = [
        execute("Download letter", LETTER_LINK, {"letter": letter.id, "large": False}),
        execute("Large print", LETTER_LINK, {"letter": letter.id, "large": True}),
    ]
    if letter.pending:
        actions += [
            execute("Record letter sent", LETTER_SENT_FORM, {"letter": letter.id}),
            execute("Not appropriate to explain", LETTER_NOT_APPROPRIATE_FORM, {"letter": letter.id}),
        ]
    return actions


def with_download(base: Card, url: str, large: bool, note: str | None = None) -> Card:
    """The card, topped with the link to the letter just made ready, and what the customer asked
    for their letters, for whoever sends it."""
    link = {"type": "Action.OpenUrl", "title": "Open the letter (link works for 15 minutes)", "url": url}
    notice = f"Your {'large print ' if large else ''}letter is ready."
    asked = [text(note, color="Attention")] if note else []
    base["body"].insert(
        0,
        container(
            [text(notice, weight="Bolder"), *asked, {"type": "ActionSet", "actions": [link]}], style="accent"
        ),
    )
    return base


def letter_sent_card(
    title: str,
    today: str,
    errors: Mapping[str, str],
    record: Element,
    cancel: Element,
    refresh: Element | None = None,
) -> Card:
    body: list[Element | None] = [
        heading(f"{title}: sent", size="Medium"),
        date_input("sent_on", "Date sent", value=today, max_value=today),
        *([field_error(errors["sent_on"])] if "sent_on" in errors else []),
        choice_set("method", "How it was sent", list(LETTER_METHODS.items()), value="post"),
        *([field_error(errors["method"])] if "method" in errors else []),
    ]
    return card(body, [record, cancel], refresh=refresh)


def letter_not_appropriate_card(
    title: str, errors: Mapping[str, str], record: Element, cancel: Element, refresh: Element | None = None
) -> Card:
    body: list[Element | None] = [
        heading(f"{title}: not appropriate to explain", size="Medium"),
        text(
            "Where the decision cannot be explained to the customer, the policy asks for a separate "
            "documented record of why. It is kept in the register and the register keepers see it.",
            subtle=True,
        ),
        text_input("reason", "Why it is not appropriate to explain", multiline=True, max_length=2000),
        *([field_error(errors["reason"])] if "reason" in errors else []),
    ]
    return card(body, [record, cancel], refresh=refresh)


def letter_sent_form(view: IncidentView, letter_id: int, today: str, errors: Mapping[str, str]) -> Card:
    return letter_sent_card(
        f"Letter for {view.reference}",
        today,
        errors,
        execute("Record", LETTER_SENT, {"letter": letter_id}, style="positive"),
        execute("Cancel", REFRESH, {"incident": view.incident_id}),
        _refresh(view),
    )


def letter_not_appropriate_form(view: IncidentView, letter_id: int, errors: Mapping[str, str]) -> Card:
    return letter_not_appropriate_card(
        f"Letter for {view.reference}",
        errors,
        execute("Record", LETTER_NOT_APPROPRIATE, {"letter": letter_id}, style="positive"),
        execute("Cancel", REFRESH, {"incident": view.incident_id}),
        _refresh(view),
    )


# --- the decision form --------------------------------------------------------------------------


def _with_error(element: Element, errors: Mapping[str, str]) -> list[Element]:
    problem = errors.get(element["id"])
    return [element, field_error(problem)] if problem else [element]


def restriction_slot(
    number: int,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    defaults: Mapping[str, str],
    *,
    optional: bool | None = None,
) -> Element:
    """One restriction's fields, `restriction_N_*`; slots after the first may be left empty."""
    p = f"restriction_{number}_"

    def v(name: str) -> str | None:
        return values.get(p + name) or defaults.get(name)

    types = [(t.value, label) for t, label in RESTRICTION_LABELS.items()]
    if number > 1 if optional is None else optional:
        types.insert(0, (NO_RESTRICTION, "(none)"))
    return container(
        [
            text(f"Restriction {number}", weight="Bolder"),
            *_with_error(choice_set(p + "type", "Type", types, value=v("type")), errors),
            *_with_error(
                text_input(
                    p + "details",
                    "What it allows and does not allow",
                    value=v("details"),
                    multiline=True,
                    max_length=2000,
                ),
                errors,
            ),
            *_with_error(
                choice_set(
                    p + "scope",
                    "Scope",
                    [(s.value, label) for s, label in SCOPE_LABELS.items()],
                    value=v("scope"),
                ),
                errors,
            ),
            *_with_error(
                text_input(
                    p + "frontline_instructions",
                    "Instructions for front-line staff",
                    value=v("frontline_instructions"),
                    multiline=True,
                    max_length=2000,
                    placeholder="e.g. Do not take calls; ask them to email housing.contact@council.example",
                ),
                errors,
            ),
            *_with_error(date_input(p + "starts_on", "Starts", value=v("starts_on")), errors),
            *_with_error(
                date_input(p + "ends_on", "Ends (optional)", value=values.get(p + "ends_on")),
                errors,
            ),
            *_with_error(date_input(p + "review_due_on", "Review by", value=v("review_due_on")), errors),
            toggle(
                p + "no_review",
                "No review: a review is inappropriate",
                value=values.get(p + "no_review") == "true",
            ),
            *_with_error(
                text_input(
                    p + "no_review_reason",
                    "Why no review (the register keepers see this)",
                    value=values.get(p + "no_review_reason"),
                    max_length=1000,
                ),
                errors,
            ),
        ],
        style="emphasis",
    )


LETTER_GUIDANCE = (
    'The customer reads this in their letter. Write to them as "you": what happened and why it '
    "matters, in plain words. No staff names, no internal notes, nothing about other people."
)


def customer_explanation_fields(values: Mapping[str, str], errors: Mapping[str, str]) -> list[Element]:
    """What the letter tells the customer, asked for beside the internal reasons, with guidance."""
    return [
        text(LETTER_GUIDANCE, subtle=True),
        *_with_error(
            text_input(
                "customer_explanation",
                "What we tell the customer (in the letter)",
                value=values.get("customer_explanation"),
                multiline=True,
                max_length=4000,
            ),
            errors,
        ),
    ]


def letter_format_fields(values: Mapping[str, str], errors: Mapping[str, str]) -> list[Element]:
    """How the customer wants letters: kept on their record, so every letter is made so."""
    return [
        *_with_error(
            choice_set(
                "letter_format",
                "The customer's letters",
                [(f.value, label) for f, label in LETTER_FORMAT_LABELS.items()],
                value=values.get("letter_format") or LetterFormat.STANDARD.value,
            ),
            errors,
        ),
        *_with_error(
            text_input(
                "letter_format_detail",
                "Which other format (Braille, audio, easy read...)",
                value=values.get("letter_format_detail"),
                max_length=200,
            ),
            errors,
        ),
        *_with_error(
            text_input("language", "Language, if not English", value=values.get("language"), max_length=60),
            errors,
        ),
    ]


def decision_form(
    view: IncidentView,
    kind: DecisionKind,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    *,
    slots: int = 1,
    restriction_defaults: Mapping[str, str] | None = None,
) -> Card:
    data = {"incident": view.incident_id, "kind": kind.value, "slots": slots}
    body: list[Element | None] = [
        text(f"Incident {view.reference} · {view.summary.category}", subtle=True),
        heading(DECISION_LABELS[kind], size="Medium"),
    ]
    if errors:
        body.append(text("Please check the fields marked below.", color="Attention", weight="Bolder"))
    body += _with_error(
        text_input(
            "reasons",
            "Reasons for this decision (internal, for the register)",
            value=values.get("reasons"),
            multiline=True,
            max_length=4000,
        ),
        errors,
    )
    if kind is not DecisionKind.NO_FURTHER_ACTION:
        body += customer_explanation_fields(values, errors)
        body += letter_format_fields(values, errors)
    if kind is DecisionKind.RESTORATIVE_APPROACH:
        body += [
            *_with_error(
                choice_set(
                    "restorative_steps",
                    "Steps taken with the customer",
                    [(s.value, label) for s, label in RESTORATIVE_STEP_LABELS.items()],
                    value=values.get("restorative_steps") or None,
                    multi=True,
                    expanded=True,
                ),
                errors,
            ),
            text_input(
                "reasonable_adjustments",
                "Reasonable adjustments offered",
                value=values.get("reasonable_adjustments"),
                multiline=True,
                max_length=2000,
            ),
            text_input(
                "signposting",
                "Signposting to independent advice and support",
                value=values.get("signposting"),
                max_length=1000,
            ),
            *_with_error(
                date_input("follow_up_on", "Follow-up date (optional)", value=values.get("follow_up_on")),
                errors,
            ),
        ]
    if kind is DecisionKind.ACTIVE_MANAGEMENT:
        body += _active_management_fields(view, values, errors)
        body += [restriction_slot(n, values, errors, restriction_defaults or {}) for n in range(1, slots + 1)]
    if kind is DecisionKind.POLICE_OR_LEGAL:
        body += _with_error(
            choice_set(
                "action_taken",
                "What was done (the letter says which)",
                [(a.value, label) for a, label in POLICE_OR_LEGAL_LABELS.items()],
                value=values.get("action_taken") or None,
            ),
            errors,
        )
        body.append(
            text_input(
                "police_reference",
                "Police reference, if any",
                value=values.get("police_reference"),
                max_length=64,
            )
        )
    # A dialog's form: no refresh, and nothing but its own buttons can replace it.
    actions = [dialog_submit("Record decision", SUBMIT, data, style="positive")]
    if kind is DecisionKind.ACTIVE_MANAGEMENT and slots < MAX_RESTRICTIONS:
        actions.append(dialog_submit("Add another restriction", FORM, {**data, "slots": slots + 1}))
    actions.append(dialog_cancel())
    return card(body, actions)


def needs_fields(values: Mapping[str, str], errors: Mapping[str, str]) -> list[Element]:
    """What every decision to restrict answers: were the customer's needs and adjustments weighed."""
    return [
        *_with_error(
            choice_set(
                "needs_considered",
                "Were the customer's support needs and reasonable adjustments considered?",
                [("yes", "Yes"), ("no", "No")],
                value=values.get("needs_considered") or None,
                expanded=True,
            ),
            errors,
        ),
        text_input(
            "needs_considered_note",
            "What was considered",
            value=values.get("needs_considered_note"),
            multiline=True,
            max_length=2000,
        ),
    ]


def _active_management_fields(
    view: IncidentView, values: Mapping[str, str], errors: Mapping[str, str]
) -> list[Element]:
    fields: list[Element] = [
        *_with_error(
            choice_set(
                "reviewer",
                "Who reviews these restrictions (the deciding manager unless another is named)",
                [(REVIEWER_SELF, "I will"), *view.reviewers],
                value=values.get("reviewer") or None,
            ),
            errors,
        ),
        text("Active management should be the minimum needed to solve the problem.", subtle=True),
        *needs_fields(values, errors),
    ]
    if view.restorative_recorded:
        fields.append(
            text(
                "The customer was warned: a restorative approach recorded in the window explained "
                "what may follow if their behaviour did not change (see the history).",
                subtle=True,
            )
        )
        return fields
    # Three different records, kept apart: what was tried, why it could not be, and (a serious
    # statement about a person) acting without warning because the threat is extreme.
    fields += [
        text("Restorative approaches tried", weight="Bolder"),
        text(
            "No recorded approach explained to the customer what may follow. If approaches were "
            "tried outside this register, record them: which steps, when, by whom.",
            subtle=True,
        ),
        *_with_error(
            choice_set(
                "prior_steps",
                "Steps taken with the customer",
                [(s.value, label) for s, label in RESTORATIVE_STEP_LABELS.items()],
                value=values.get("prior_steps") or None,
                multi=True,
                expanded=True,
            ),
            errors,
        ),
        *_with_error(date_input("prior_on", "When", value=values.get("prior_on")), errors),
        *_with_error(
            text_input(
                "prior_by", "By whom (a name or a role)", value=values.get("prior_by"), max_length=200
            ),
            errors,
        ),
        text("Or: restorative approaches not possible or not appropriate", weight="Bolder"),
        *_with_error(
            text_input(
                "restorative_not_possible_reason",
                "Why they were not possible or not appropriate"
                + ("" if view.restorative_required else " (category one: zero tolerance)"),
                value=values.get("restorative_not_possible_reason"),
                multiline=True,
                max_length=2000,
            ),
            errors,
        ),
        text("Or: acting without prior warning", weight="Bolder"),
        text(
            "Only where the threat is so extreme that it demands it: this is a serious statement "
            "about a person, and the annual report counts it.",
            subtle=True,
        ),
        *_with_error(
            text_input(
                "without_prior_warning_reason",
                "Why the threat is so extreme that we act without prior warning",
                value=values.get("without_prior_warning_reason"),
                multiline=True,
                max_length=2000,
            ),
            errors,
        ),
    ]
    return fields


MANAGERS_AND_KEEPERS = (
    "Only its service's managers (or a manager a register keeper names) decide; the register keepers oversee."
)


def no_access_text(reference: str | None = None, who: str = MANAGERS_AND_KEEPERS) -> str:
    what = f"incident {reference}" if reference else "this record"
    return f"You do not have access to {what}. {who}"


def no_access_card(reference: str | None = None, who: str = MANAGERS_AND_KEEPERS) -> Card:
    return card([text(no_access_text(reference, who))])
