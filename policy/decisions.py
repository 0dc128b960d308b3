"""What a decision on an incident can be, and what active management can restrict."""

from enum import StrEnum


class DecisionKind(StrEnum):
    NO_FURTHER_ACTION = "no_further_action"
    RESTORATIVE_APPROACH = "restorative_approach"
    ACTIVE_MANAGEMENT = "active_management"
    POLICE_OR_LEGAL = "police_or_legal"


DECISION_LABELS: dict[DecisionKind, str] = {
    DecisionKind.NO_FURTHER_ACTION: "No further action",
    DecisionKind.RESTORATIVE_APPROACH: "Restorative approach",
    DecisionKind.ACTIVE_MANAGEMENT: "Active management",
    DecisionKind.POLICE_OR_LEGAL: "Refer to police / legal action",
}


class DecidingBody(StrEnum):
    """Who took a decision fixes who hears an appeal against it."""

    EMPLOYEE = "employee"  # an employee's immediate action
    MANAGER = "manager"
    COMPLAINTS_REVIEW_GROUP = "complaints_review_group"
    CHIEF_EXECUTIVE = "chief_executive"
    ELECTED_MEMBER = "elected_member"
    COMPLAINTS_TEAM = "complaints_team"  # a response under the complaints handling procedure


class RestorativeStep(StrEnum):
    DISCUSSED_BEHAVIOUR = "discussed_behaviour"
    EXPLAINED_CONCERN = "explained_concern"
    ASKED_TO_CHANGE = "asked_to_change"
    EXPLAINED_CONSEQUENCES = "explained_consequences"


RESTORATIVE_STEP_LABELS: dict[RestorativeStep, str] = {
    RestorativeStep.DISCUSSED_BEHAVIOUR: "Discussing their behaviour",
    RestorativeStep.EXPLAINED_CONCERN: "Explaining why it is concerning",
    RestorativeStep.ASKED_TO_CHANGE: "Asking them to change how they engage with us",
    RestorativeStep.EXPLAINED_CONSEQUENCES: ("Explaining potential actions if behaviour does not change"),
}


class RestrictionType(StrEnum):
    CONTACT_CHANNELS = "contact_channels"
    NAMED_OFFICER_OR_MAILBOX = "named_officer_or_mailbox"
    SINGLE_POINT_OF_CONTACT = "single_point_of_contact"
    PREMISES_BAN = "premises_ban"
    LIMIT_TIME_VOLUME_TOPICS = "limit_time_volume_topics"
    PROTECT_STAFF = "protect_staff"
    THIRD_PARTY_ONLY = "third_party_only"
    MATTER_CLOSED = "matter_closed"
    POLICE_OR_LEGAL = "police_or_legal"


RESTRICTION_LABELS: dict[RestrictionType, str] = {
    RestrictionType.CONTACT_CHANNELS: "Restricting contact to named channels",
    RestrictionType.NAMED_OFFICER_OR_MAILBOX: "Contact through a named officer or generic mailbox",
    RestrictionType.SINGLE_POINT_OF_CONTACT: "A single point of contact",
    RestrictionType.PREMISES_BAN: "Ban from council premises",
    RestrictionType.LIMIT_TIME_VOLUME_TOPICS: "Limiting the time, volume or topics of contact",
    RestrictionType.PROTECT_STAFF: "Protecting staff: no direct contact details or staff names",
    RestrictionType.THIRD_PARTY_ONLY: "Third-party communication through an advocate",
    RestrictionType.MATTER_CLOSED: "Stopping contact: the matter is closed",
    RestrictionType.POLICE_OR_LEGAL: "Report to police / legal action",
}


class RestrictionScope(StrEnum):
    SERVICE = "service"
    COUNCIL_WIDE = "council_wide"


class RestrictionStatus(StrEnum):
    ACTIVE = "active"
    LIFTED = "lifted"
    EXPIRED = "expired"
    VARIED = "varied"  # replaced by the restriction that varied it


class ReviewOutcome(StrEnum):
    CONTINUE = "continue"
    VARY = "vary"
    LIFT = "lift"
    REINSTATE = "reinstate"  # engagement deteriorated after a restriction was lifted


class AppealRoute(StrEnum):
    COMPLAINTS_PROCEDURE = "complaints_procedure"
    COMPLAINTS_REVIEW_GROUP = "complaints_review_group"
    CHIEF_EXECUTIVE = "chief_executive"


class AppealOutcome(StrEnum):
    """From the customer's side: upheld means the decision appealed is overturned."""

    UPHELD = "upheld"
    PARTLY_UPHELD = "partly_upheld"
    NOT_UPHELD = "not_upheld"


class LetterKind(StrEnum):
    DECISION = "decision"
    VARIATION = "variation"
    CONTINUATION = "continuation"  # a review continued the restriction: the first letter promised it
    LIFTED = "lifted"
    REINSTATEMENT = "reinstatement"
    APPEAL_OUTCOME = "appeal_outcome"  # or a complaint's response, at its stage
    APPEAL_NOT_HEARD = "appeal_not_heard"  # why an appeal goes no further, and where else to go


class LetterFormat(StrEnum):
    """How a customer wants letters: standard print needs no record."""

    STANDARD = "standard"
    LARGE_PRINT = "large_print"
    OTHER = "other"  # Braille, audio, easy read...: arranged by whoever sends


LETTER_FORMAT_LABELS = {
    LetterFormat.STANDARD: "Standard print",
    LetterFormat.LARGE_PRINT: "Large print",
    LetterFormat.OTHER: "Another format (say which)",
}


def format_note(letter_format: str | None, detail: str | None, language: str | None) -> str | None:
    """What whoever sends a letter must do for this customer's recorded format and language."""
    asks = []
    if letter_format == LetterFormat.LARGE_PRINT.value:
        asks.append("large print (the letter downloads in large print)")
    elif letter_format == LetterFormat.OTHER.value:
        asks.append(f"{detail or 'another format'}: arrange it before sending")
    if language:
        asks.append(f"{language}: arrange a translation before sending")
    return "The customer asked for letters in " + "; and in ".join(asks) + "." if asks else None


# What every restriction's instructions to front-line staff must say, whatever the manager wrote.
EMERGENCY_STATEMENT = "This never stops the customer reporting an emergency."
CLOSED_MATTER_STATEMENT = (
    "Correspondence on the closed matter is still read for new information or safeguarding "
    "concerns; it is not answered."
)


def standing_instructions(kind: RestrictionType) -> list[str]:
    lines = [EMERGENCY_STATEMENT]
    if kind is RestrictionType.MATTER_CLOSED:
        lines.append(CLOSED_MATTER_STATEMENT)
    return lines


def instructions_with_standing(kind: RestrictionType, written: str) -> str:
    """The manager's instructions, then the lines the policy requires, each once."""
    lines = [written.strip()]
    lines += [s for s in standing_instructions(kind) if s not in written]
    return "\n".join(lines)


MANAGER_CHECKLIST = (
    "Have restorative approaches been tried, or were they not possible or appropriate?",
    "Have the customer's circumstances, support needs and reasonable adjustments been considered?",
    "Is the response proportionate: the minimum needed to solve the problem?",
)

SCOPE_LABELS: dict[RestrictionScope, str] = {
    RestrictionScope.SERVICE: "This service only",
    RestrictionScope.COUNCIL_WIDE: "Council-wide (the risk spans several services)",
}

LETTER_METHODS = {
    "post": "Post",
    "email": "Email",
    "hand": "By hand",
    "large_print_post": "Large print, by post",
    "other_format": "Another format on request",
}
