"""A report walked through the dialog, for tests of what follows it."""

from tests.support.dialog import Dialog
from tests.support.harness import BotHarness
from tests.support.teams import Person

WHAT = {
    "occurred_date": "2026-11-23",
    "occurred_time": "09:15",
    "channel": "phone",
    "service_area": "housing",
    "category": "two",
}
BEHAVIOUR = {
    "behaviours": "demanding_responses,moving_the_goal_posts",
    "description": "Demanded a reply within the hour and raised a new complaint when told no.",
    "impact_on_staff": "Call lasted 50 minutes.",
    "impact_on_service": "Queue of 12 callers waited.",
    "others_affected": "other_customers",
}
ACTION = {
    "ended_contact": "true",
    "left_premises": "false",
    "police_called": "false",
    "wants_support": "true",
}


async def to_check(dialog: Dialog, customer: dict, what=WHAT, behaviour=BEHAVIOUR, action=ACTION):
    await dialog.open()
    if "customer_query" in customer:
        await dialog.press("Search", customer_query=customer["customer_query"])
        customer = {k: v for k, v in customer.items() if k != "customer_query"}
    await dialog.press("Next", **customer)
    await dialog.press("Next", **what)
    await dialog.press("Next", **behaviour)
    return await dialog.press("Next", **action)


async def report(
    harness: BotHarness,
    reporter: Person,
    customer: dict | None = None,
    behaviour: dict | None = None,
    action: dict | None = None,
    **what: str,
) -> str:
    """Report an incident as `reporter`; returns its reference."""
    dialog = Dialog(harness, reporter)
    await to_check(
        dialog,
        customer
        or {
            "new_name": "Pat Jones",
            "new_address": "1 High Street, Melrose",
            "new_postcode": "TD6 0SA",
        },
        what={**WHAT, **what},
        behaviour={**BEHAVIOUR, **(behaviour or {})},
        action={**ACTION, **(action or {})},
    )
    await dialog.press("Send")
    message = dialog.closing_message or ""
    return message.split()[2].rstrip(".") if message.startswith("Reported as") else ""
