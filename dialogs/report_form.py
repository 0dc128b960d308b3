"""The report dialog's fields, steps and checks: pure functions over what the card sent.

Card data can be forged by anyone in the tenant, so every value is checked here whatever the
card allowed: required fields, lengths, dates, and choices that must be the policy's own.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cards.report import TOGGLES
from policy.categories import OTHER_BEHAVIOUR, Category, behaviour_choices
from policy.channels import ContactChannel
from policy.incidents import DESCRIPTION_MAX, AffectedParty

STEPS = ("customer", "what", "behaviour", "action", "check")

FIELDS: dict[str, tuple[str, ...]] = {
    "customer": (
        "customer_query",
        "customer_id",
        "new_name",
        "new_reference",
        "new_email",
        "new_phone",
        "new_address",
        "new_postcode",
        "new_support_needs",
        "new_advocate",
        "unidentified",
        "known_as",
    ),
    "what": ("occurred_date", "occurred_time", "channel", "service_area", "category"),
    "behaviour": (
        "behaviours",
        "other_behaviour",
        "by_representative",
        "representative",
        "description",
        "impact_on_staff",
        "impact_on_service",
        "others_affected",
    ),
    "action": (
        "ended_contact",
        "left_premises",
        "police_called",
        "physical_violence",
        "weapon_or_animal",
        "police_reference",
        "wants_support",
    ),
    "check": (),
}
ALL_FIELDS = frozenset(f for fields in FIELDS.values() for f in fields)
NEW_CUSTOMER = "new"

LIMITS = {
    "customer_query": 200,
    "new_name": 200,
    "new_reference": 64,
    "new_email": 320,
    "new_phone": 64,
    "new_address": 500,
    "new_postcode": 10,
    "new_support_needs": 2000,
    "new_advocate": 500,
    "known_as": 200,
    "other_behaviour": 500,
    "representative": 200,
    "description": DESCRIPTION_MAX,
    "impact_on_staff": 2000,
    "impact_on_service": 2000,
    "police_reference": 64,
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
POSTCODE = re.compile(r"^[A-Za-z0-9 ]{2,10}$")
PHONE = re.compile(r"^[0-9 +()-]{6,64}$")
EARLIEST = date(2000, 1, 1)
CLOCK_SKEW = timedelta(minutes=5)

Errors = dict[str, str]


def clean(raw: Mapping[str, Any]) -> dict[str, str]:
    """Only the form's own fields, as trimmed strings: anything else a card sends is dropped."""
    values: dict[str, str] = {}
    for key in ALL_FIELDS:
        if key in raw and raw[key] is not None:
            value = raw[key]
            if isinstance(value, bool):
                value = "true" if value else "false"
            values[key] = str(value).strip()
    return values


def multi(value: str | None) -> list[str]:
    """Teams sends a multi-select ChoiceSet as one comma-separated string."""
    return [v for v in (value or "").split(",") if v]


def flag(value: str | None) -> bool:
    return (value or "").lower() == "true"


def _lengths(values: Mapping[str, str], fields: tuple[str, ...]) -> Errors:
    errors: Errors = {}
    for name in fields:
        limit = LIMITS.get(name)
        if limit and len(values.get(name, "")) > limit:
            errors[name] = f"Keep this to {limit:,} characters (it has {len(values[name]):,})"
    return errors


def check_customer(values: Mapping[str, str], *, existing_ids: set[int]) -> Errors:
    """`existing_ids`: the chosen customer's id when the register holds them, else empty."""
    errors = _lengths(values, FIELDS["customer"])
    if values.get("unidentified", "false") not in ("true", "false"):
        errors["unidentified"] = "Tick or untick this"
    if flag(values.get("unidentified")):
        # Reported with what is known; a register keeper matches it to a customer record later.
        if not values.get("known_as"):
            errors["known_as"] = (
                "Say what is known: a phone number, an account name, a description of the person"
            )
        return errors
    chosen = values.get("customer_id", "")
    if chosen and chosen != NEW_CUSTOMER:
        if not chosen.isascii() or not chosen.isdigit() or int(chosen) not in existing_ids:
            errors["customer_id"] = "That customer is not in the register: search again"
        return errors
    if not values.get("new_name"):
        errors["new_name"] = "Choose a customer from the search results, or enter the new customer's name"
    elif len(values["new_name"]) < 2:
        errors["new_name"] = "Enter the customer's name as they gave it"
    if values.get("new_email") and not EMAIL.match(values["new_email"]):
        errors["new_email"] = "Enter an email address like name@example.com"
    if values.get("new_postcode") and not POSTCODE.match(values["new_postcode"]):
        errors["new_postcode"] = "Enter a postcode like TD6 0SA"
    if values.get("new_phone") and not PHONE.match(values["new_phone"]):
        errors["new_phone"] = "Enter a phone number with digits, spaces and + only"
    return errors


def occurred_at(values: Mapping[str, str], zone: ZoneInfo) -> datetime | None:
    try:
        day = date.fromisoformat(values.get("occurred_date", ""))
        hour = time.fromisoformat(values.get("occurred_time", ""))
    except ValueError:
        return None
    return datetime.combine(day, hour.replace(second=0, microsecond=0), tzinfo=zone)


def check_what(values: Mapping[str, str], *, now: datetime, zone: ZoneInfo, areas: set[str]) -> Errors:
    errors: Errors = {}
    try:
        day = date.fromisoformat(values.get("occurred_date", ""))
    except ValueError:
        errors["occurred_date"] = "Enter the date it happened"
    else:
        if day < EARLIEST:
            errors["occurred_date"] = "Check the year: that date is too long ago"
    if not re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", values.get("occurred_time", "")):
        errors["occurred_time"] = "Enter the time it happened, like 14:30"
    when = occurred_at(values, zone)
    if when is None and "occurred_date" not in errors and "occurred_time" not in errors:
        errors["occurred_time"] = "Enter the time it happened, like 14:30"
    if when is not None and when > now + CLOCK_SKEW:
        errors["occurred_date"] = "The date and time cannot be in the future"
    if values.get("channel") not in {c.value for c in ContactChannel}:
        errors["channel"] = "Choose how the customer made contact"
    if values.get("service_area") not in areas:
        errors["service_area"] = "Choose the service area"
    if values.get("category") not in {c.value for c in Category}:
        errors["category"] = "Choose the category that fits best"
    return errors


def check_behaviour(values: Mapping[str, str]) -> Errors:
    errors = _lengths(values, FIELDS["behaviour"])
    category = values.get("category")
    allowed = (
        {b.key for b in behaviour_choices(Category(category))}
        if category in {c.value for c in Category}
        else set()
    )
    chosen = multi(values.get("behaviours"))
    if not chosen:
        errors["behaviours"] = "Choose at least one behaviour you saw"
    elif not set(chosen) <= allowed:
        errors["behaviours"] = "Choose behaviours from this category's list"
    elif OTHER_BEHAVIOUR.key in chosen and not values.get("other_behaviour"):
        errors["other_behaviour"] = "Describe the other behaviour"
    if values.get("by_representative", "false") not in ("true", "false"):
        errors["by_representative"] = "Tick or untick this"
    elif flag(values.get("by_representative")) and not values.get("representative"):
        errors["representative"] = "Say who acted for the customer: their role, such as advocate or relative"
    if not values.get("description"):
        errors["description"] = "Describe what happened, in your own words"
    if not set(multi(values.get("others_affected"))) <= {p.value for p in AffectedParty}:
        errors["others_affected"] = "Choose from the list"
    return errors


def check_action(values: Mapping[str, str]) -> Errors:
    errors = _lengths(values, FIELDS["action"])
    for name in TOGGLES:
        if values.get(name, "false") not in ("true", "false"):
            errors[name] = "Tick or untick this"
    if flag(values.get("police_called")) and not values.get("police_reference"):
        errors["police_reference"] = "Give the police incident reference, or 'not given'"
    return errors


@dataclass(frozen=True)
class Placement:
    """Where a step's fields stand in the dialog."""

    step: str

    @property
    def index(self) -> int:
        return STEPS.index(self.step)

    @property
    def previous(self) -> str | None:
        return STEPS[self.index - 1] if self.index > 0 else None

    @property
    def next(self) -> str | None:
        return STEPS[self.index + 1] if self.index + 1 < len(STEPS) else None
