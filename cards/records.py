"""What `check` answers with, and the full record a manager or register keeper may open."""

from collections.abc import Sequence
from dataclasses import dataclass

from cards.elements import (
    Card,
    Element,
    bullets,
    card,
    container,
    dialog_submit,
    facts,
    heading,
    im_back,
    open_form,
    text,
)

RECORD = "customer.record"
REINSTATE_FORM = "restriction.reinstate_form"


@dataclass(frozen=True)
class Instruction:
    label: str
    applies_to: str
    instructions: str
    contact: str


@dataclass(frozen=True)
class CheckedCustomer:
    customer_id: int
    label: str
    restrictions: Sequence[Instruction]
    can_open: bool
    # Whom to contact, for each undecided report of threatening behaviour (category one).
    awaiting: Sequence[str] = ()


def check_card(query: str, found: Sequence[CheckedCustomer]) -> Card:
    if not found:
        return card(
            [
                heading("No active restrictions", size="Medium"),
                text(f'Nobody matching "{query}" has active restrictions: deal with them as normal.'),
                text(
                    "If their behaviour is unacceptable, you may end the contact and type report.",
                    subtle=True,
                ),
            ]
        )
    body: list[Element | None] = [heading("How to handle this customer", size="Medium")]
    actions: list[Element] = []
    for customer in found:
        body.append(text(customer.label, weight="Bolder"))
        if customer.awaiting:
            # Never "deal with them as normal" while a threat waits for a decision; and nothing
            # more about the report than that it exists and whom to ask.
            body.append(
                container(
                    [
                        text("A report of threatening behaviour awaits a decision", weight="Bolder"),
                        text("Before dealing with this customer, contact:"),
                        bullets(customer.awaiting),
                    ],
                    style="attention",
                )
            )
        for r in customer.restrictions:
            body.append(
                container(
                    [
                        text(r.label, weight="Bolder"),
                        text(r.applies_to, subtle=True),
                        text(r.instructions),
                        facts([("Contact", r.contact)]),
                    ],
                    style="emphasis",
                )
            )
        if customer.can_open:
            actions.append(
                open_form(
                    f"Open full record: {customer.label}",
                    RECORD,
                    {"customer": customer.customer_id},
                )
            )
    return card(body, actions)


@dataclass(frozen=True)
class FullRecord:
    customer: Sequence[tuple[str, str | None]]
    incidents: Sequence[str]
    decisions: Sequence[str]
    restrictions: Sequence[str]
    appeals: Sequence[str]
    letters: Sequence[str]
    reinstatable: Sequence[tuple[int, str]] = ()  # lifted or ended restrictions this viewer may restore


def full_record_card(record: FullRecord) -> Card:
    def section(title: str, lines: Sequence[str]) -> list[Element]:
        return [
            text(title, weight="Bolder"),
            bullets(lines) if lines else text("None", subtle=True),
        ]

    # Shown in a dialog: reinstating is a step of the same dialog.
    return card(
        [
            heading("Customer record", size="Medium"),
            text("Restricted: your viewing of this record is logged.", subtle=True),
            facts(record.customer),
            *section("Incidents", record.incidents),
            *section("Decisions", record.decisions),
            *section("Restrictions", record.restrictions),
            *section("Appeals", record.appeals),
            *section("Letters", record.letters),
        ],
        [
            dialog_submit(f"Reinstate: {label}", REINSTATE_FORM, {"restriction": restriction_id})
            for restriction_id, label in record.reinstatable
        ],
    )


@dataclass(frozen=True)
class ReportedIncident:
    reference: str
    date: str
    category: str
    state: str


def my_incidents_card(incidents: Sequence[ReportedIncident], total: int) -> Card:
    if not incidents:
        return card(
            [heading("Incidents you reported", size="Medium"), text("You have not reported any incidents.")],
            [im_back("Report an incident", "report")],
        )
    rows = [
        container(
            [
                text(f"**{i.reference}**, {i.date}"),
                text(f"{i.category}. {i.state}.", subtle=True),
            ]
        )
        for i in incidents
    ]
    earlier = total - len(incidents)
    return card(
        [
            heading("Incidents you reported", size="Medium"),
            *rows,
            text(f"and {earlier} earlier", subtle=True) if earlier > 0 else None,
            text("To add something you have learnt since, type **add to** and the reference.", subtle=True),
        ]
    )
