"""An incident's life, and its human reference."""

from enum import StrEnum


class IncidentStatus(StrEnum):
    REPORTED = "reported"  # waiting for a manager's decision
    DECIDED = "decided"


class AffectedParty(StrEnum):
    STAFF = "staff"
    ELECTED_MEMBERS = "elected_members"
    OTHER_CUSTOMERS = "other_customers"


def incident_reference(year: int, sequence: int) -> str:
    """`INC-2026-00042`: the number staff quote in Teams, letters and the register."""
    return f"INC-{year:04d}-{sequence:05d}"


AFFECTED_LABELS: dict[AffectedParty, str] = {
    AffectedParty.STAFF: "Other staff",
    AffectedParty.ELECTED_MEMBERS: "Elected Members",
    AffectedParty.OTHER_CUSTOMERS: "Other customers",
}

DESCRIPTION_MAX = 4000

# "All employees have the right to end contact with a customer if they find it distressing or
# uncomfortable." The policy's words for the immediate action, and the support offered after.
IMMEDIATE_ACTION_RIGHT = (
    "All employees have the right to end contact with a customer if they find it distressing "
    "or uncomfortable."
)
