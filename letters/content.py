"""What each letter to a customer says, worked out from plain data and poured into the council's
Word template for that kind of letter.

Every letter is written to the customer ("you"): what they are told is what the deciding person
wrote for them, never the register's internal reasons. Each kind of letter has its own template
and says only what applies to it: a restorative letter restricts nothing, a lifting has nothing
to appeal, and only a letter that names the Scottish Public Services Ombudsman gives its details.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from letters.render import render, template_fields
from policy.appeals import ROUTE_LABELS, NotHeard
from policy.decisions import (
    AppealOutcome,
    AppealRoute,
    DecisionKind,
    LetterKind,
    RestorativeStep,
    RestrictionType,
)

TEMPLATES = Path(__file__).parent / "templates"

PRIVACY = (
    "We use the information in this letter, and what we record about your contact with us, to "
    "manage that contact under our Managing Customer Engagement Policy and to keep our staff and "
    "other customers safe. We do this as part of our public task (UK GDPR Article 6(1)(e)) and to "
    "meet our duties to our staff as an employer. We keep these records for {retention}, and "
    "longer only where the law requires. You have the right to ask for a copy of the information "
    "we hold about you, to ask us to correct it, and to object to how we use it. Our Data "
    "Protection Officer can help with this: {dpo}. If you are unhappy with how we use your "
    "information you can complain to the Information Commissioner's Office: www.ico.org.uk, "
    "telephone 0303 123 1113."
)


@dataclass(frozen=True)
class LetterSettings:
    council_name: str = "The Council"
    # The letterhead: what a customer needs to reply. Unset, `serve` warns once at start-up.
    address: str = ""
    phone: str = ""
    email: str = ""
    web: str = ""
    logo: Path | None = None
    appeal_contact: str = (
        "write to the Complaints Team at the council's headquarters, or email the address on "
        "the council's website"
    )
    appeal_working_days: int = 20
    template_dir: Path = TEMPLATES
    # The council's Customer Relationship Management system, named in letters only when it has one
    # that holds these decisions.
    crm_name: str = ""
    # "role": letters are signed by a role or team, never a name; "name": the deciding officer signs,
    # except where a restriction protects staff.
    signed_by: str = "name"
    data_protection_officer: str = "write to the Data Protection Officer at the address above"
    retention: str = "two years after our last contact about it, or longer after violence or threats"
    privacy: str = PRIVACY  # {retention} and {dpo} are filled in
    spso: str = (
        "If you remain dissatisfied, you can ask the Scottish Public Services Ombudsman (SPSO) to "
        "look at your complaint. The SPSO is independent and free to use: complain online at "
        "www.spso.org.uk, call freephone 0800 377 7330, or write to Freepost SPSO. You should "
        "normally do so within 12 months of when you first knew of the matter."
    )
    # Complaints about a councillor's conduct go to the Ethical Standards Commissioner.
    councillor_conduct: str = (
        "If you are unhappy with how a councillor behaved towards you, you can complain to the "
        "Ethical Standards Commissioner: www.ethicalstandards.org.uk, telephone 0300 011 0550."
    )

    @property
    def letterhead_missing(self) -> list[str]:
        """The letterhead's parts a council has not set: a customer could not reply to them."""
        names = {"COUNCIL_NAME": self.council_name != "The Council", "COUNCIL_ADDRESS": self.address}
        names |= {"COUNCIL_PHONE": self.phone, "COUNCIL_EMAIL": self.email, "COUNCIL_WEB": self.web}
        return [name for name, given in names.items() if not given]


@dataclass(frozen=True)
class RestrictionLine:
    type: RestrictionType
    details: str
    starts_on: date
    ends_on: date | None
    review_due_on: date | None


@dataclass(frozen=True)
class DecisionLetter:
    """One letter, as plain data. `explanation` is what the customer is told, written for them."""

    reference: str
    letter_date: date
    customer_name: str
    customer_address: str
    kind: DecisionKind
    explanation: str
    service_area: str
    council_wide: bool
    appeal_route: AppealRoute | None  # where an appeal against this goes; none: no further here
    appeal_by: date | None  # the last day to appeal (or to ask for Stage 2), as the register holds it
    signer_name: str | None  # the person who decided
    signer_role: str  # under their name: "Manager, Housing"
    signer_team: str  # instead of a name: "Housing Management Team"
    restorative_steps: Sequence[RestorativeStep] = ()
    reasonable_adjustments: str | None = None
    signposting: str | None = None
    follow_up_on: date | None = None
    restrictions: Sequence[RestrictionLine] = ()
    letter_kind: LetterKind = LetterKind.DECISION
    lifted: Sequence[RestrictionLine] = ()  # for a lifting or an overturning, what no longer applies
    appeal_outcome: AppealOutcome | None = None
    heard_by: AppealRoute | None = None  # for an appeal's outcome: who heard it
    complaint_stage: int | None = None  # a complaint's response: the stage it was at
    not_heard: NotHeard | None = None  # an appeal the policy gives no route: why
    protects_staff: bool = False  # a restriction protects staff: no staff name in the letter
    police_told: bool = False  # the police were given the information
    police_reference: str | None = None
    legal_action: bool = False
    next_review_on: date | None = None  # a continuation: when it is next reviewed
    extra: Mapping[str, Any] = field(default_factory=dict)


def day(value: date) -> str:
    return f"{value.day} {value.strftime('%B %Y')}"


# --- which template -----------------------------------------------------------------------------

DECISION_TEMPLATES = {
    DecisionKind.RESTORATIVE_APPROACH: "restorative_approach",
    DecisionKind.ACTIVE_MANAGEMENT: "active_management",
    DecisionKind.POLICE_OR_LEGAL: "police_or_legal",
}
TITLES = {
    "restorative_approach": "How we will work with you",
    "active_management": "Managing how you contact us",
    "police_or_legal": "Action we have taken",
    "continuation": "Your arrangements for contacting us continue",
    "variation": "Changes to how you contact us",
    "lifted": "The arrangements for contacting us have ended",
    "reinstatement": "The arrangements for contacting us apply again",
    "appeal_outcome_review_group": "The outcome of your appeal",
    "appeal_outcome_chief_executive": "The outcome of your appeal to the Chief Executive",
    "complaint_stage_1": "Our response to your complaint (Stage 1)",
    "complaint_stage_2": "Our response to your complaint (Stage 2)",
    "appeal_not_heard_elected_member": "Your request for an appeal",
    "appeal_not_heard": "Your request for a further appeal",
}
TEMPLATE_NAMES = tuple(TITLES)


def template_name(letter: DecisionLetter) -> str:
    """The template for this letter: one for each kind of decision, outcome and stage."""
    kind = letter.letter_kind
    if kind is LetterKind.DECISION:
        return DECISION_TEMPLATES[letter.kind]
    if kind is LetterKind.APPEAL_NOT_HEARD:
        return (
            "appeal_not_heard_elected_member"
            if letter.not_heard is NotHeard.ELECTED_MEMBER
            else "appeal_not_heard"
        )
    if kind is LetterKind.APPEAL_OUTCOME:
        if letter.complaint_stage:
            return f"complaint_stage_{2 if letter.complaint_stage >= 2 else 1}"
        if letter.heard_by is AppealRoute.CHIEF_EXECUTIVE:
            return "appeal_outcome_chief_executive"
        return "appeal_outcome_review_group"
    return kind.value  # continuation, variation, lifted, reinstatement


# --- what each part says ------------------------------------------------------------------------

# The policy's restorative steps, told to the customer.
STEPS_TOLD = {
    RestorativeStep.DISCUSSED_BEHAVIOUR: "We talked with you about how you have been contacting us.",
    RestorativeStep.EXPLAINED_CONCERN: "We explained why this concerns us.",
    RestorativeStep.ASKED_TO_CHANGE: "We asked you to change how you contact us.",
    RestorativeStep.EXPLAINED_CONSEQUENCES: (
        "We explained what we may have to do if things do not change, such as restricting how you "
        "can contact us."
    ),
}
# Each restriction as the customer lives with it.
RESTRICTIONS_TOLD = {
    RestrictionType.CONTACT_CHANNELS: "You may contact us only in the ways set out here",
    RestrictionType.NAMED_OFFICER_OR_MAILBOX: "Please contact us only through the contact named here",
    RestrictionType.SINGLE_POINT_OF_CONTACT: "One contact will deal with everything you raise with us",
    RestrictionType.PREMISES_BAN: "You must not come to the council premises named here",
    RestrictionType.LIMIT_TIME_VOLUME_TOPICS: (
        "We will limit how long, how often or about what you contact us"
    ),
    RestrictionType.PROTECT_STAFF: (
        "We will not give you the names or direct contact details of our staff; please use the "
        "contact given here"
    ),
    RestrictionType.THIRD_PARTY_ONLY: "We will deal with you through a representative or advocate",
    RestrictionType.MATTER_CLOSED: "We have closed the matter and will not reply about it again",
    RestrictionType.POLICE_OR_LEGAL: "We have passed the matter to the police or our legal team",
}
EMERGENCY = "None of this stops you contacting us in an emergency."
CLOSED_MATTER = (
    "We will still read anything you send us about the closed matter, in case it contains new "
    "information or a concern about someone's safety, but we will not reply to it."
)
OUTCOMES_TOLD = {
    AppealOutcome.UPHELD: "We have upheld your appeal. We have overturned the decision you appealed against.",
    AppealOutcome.PARTLY_UPHELD: (
        "We have partly upheld your appeal. We have changed the arrangements, as set out below."
    ),
    AppealOutcome.NOT_UPHELD: (
        "We have not upheld your appeal. The decision you appealed against stays as it was."
    ),
}
COMPLAINT_OUTCOMES_TOLD = {
    AppealOutcome.UPHELD: "We have upheld your complaint.",
    AppealOutcome.PARTLY_UPHELD: "We have partly upheld your complaint.",
    AppealOutcome.NOT_UPHELD: "We have not upheld your complaint.",
}
NOT_HEARD_TOLD = {
    NotHeard.ELECTED_MEMBER: (
        "The action you asked us to look at again was taken by an elected member (a councillor). "
        "The appeal process of our Managing Customer Engagement Policy does not apply to action "
        "taken by elected members, so we cannot consider it as an appeal."
    ),
    NotHeard.CHIEF_EXECUTIVE: (
        "Your appeal has already been considered by the Chief Executive. That is the last stage of "
        "appeal within the council, so we cannot consider it again."
    ),
    NotHeard.STAGE_TWO_DONE: (
        "Your complaint has already been considered at Stage 2, the last stage of our complaints "
        "handling procedure, so we cannot consider it again."
    ),
}
# When the person deciding wrote nothing for the customer: plain, and never the internal notes.
EXPLAINED_BY_DEFAULT = {
    "restorative_approach": (
        "Some of your recent contact with us has not met the standards in our Managing Customer "
        "Engagement Policy. We want to work with you to put this right."
    ),
    "active_management": (
        "Your contact with us has continued to fall below the standards in our Managing Customer "
        "Engagement Policy, after we talked with you about it."
    ),
    "police_or_legal": (
        "What happened during your contact with us was serious enough that we could not deal with "
        "it under our own procedures alone."
    ),
    "continuation": "We do not think the reasons for the arrangements have gone away yet.",
    "variation": "We think different arrangements are now needed.",
    "reinstatement": "Your contact with us has again fallen below the standards in our policy.",
}


def _span(r: RestrictionLine) -> str:
    span = f"From {day(r.starts_on)}" + (f" until {day(r.ends_on)}" if r.ends_on else "")
    if r.review_due_on:
        return f"{span}. We will review this by {day(r.review_due_on)} and write to you with the outcome."
    if r.ends_on:
        return f"{span}. It ends then without a review."
    return f"{span}. We will not review this routinely; you can ask us to look at it again at any time."


def _restriction(r: RestrictionLine) -> dict[str, str]:
    return {"what": RESTRICTIONS_TOLD[r.type], "details": r.details, "how_long": _span(r)}


def _appeal(letter: DecisionLetter, settings: LetterSettings) -> str:
    """The right of appeal, to the body and by the date the register holds the customer to."""
    if letter.appeal_route is None or letter.appeal_by is None:
        return ""
    by = day(letter.appeal_by)
    if letter.complaint_stage == 1:
        return (
            "If you remain dissatisfied, you can ask us to look at your complaint again at Stage 2 "
            f"of our complaints handling procedure. Please {settings.appeal_contact} by {by}, saying "
            "why you remain dissatisfied."
        )
    appeal = (
        f"If you disagree with this decision you can appeal. Your appeal will be considered by "
        f"{ROUTE_LABELS[letter.appeal_route]}. Please {settings.appeal_contact} by {by} "
        f"({settings.appeal_working_days} working days from the date of this letter), saying why you "
        "disagree."
    )
    if letter.restrictions:  # the policy: appeals consider arguments about the restrictions
        appeal += " An appeal considers arguments about the arrangements themselves."
    return appeal


def _told_staff(letter: DecisionLetter) -> str:
    if not letter.restrictions:
        return ""
    who = "across the council" if letter.council_wide else f"in {letter.service_area}"
    return (
        f"Staff {who} who may deal with you are told about these arrangements, so that they can follow them."
    )


def _sharing(letter: DecisionLetter, settings: LetterSettings) -> str:
    lines = []
    if told := _told_staff(letter):
        lines.append(told)
    if letter.police_told:
        lines.append("We have shared the information about what happened with the police.")
    where = "our secure register of these decisions, which only the staff who need it can see"
    if settings.crm_name:
        where += f", and on {settings.crm_name}"
    lines.append(f"We have recorded this decision on {where}. Every look at the record is logged.")
    return " ".join(lines)


def _signature(letter: DecisionLetter, settings: LetterSettings) -> tuple[str, str]:
    """A name where the council signs with names and no restriction protects its staff; a team else."""
    protected = letter.protects_staff or any(
        r.type is RestrictionType.PROTECT_STAFF for r in (*letter.restrictions, *letter.lifted)
    )
    if settings.signed_by == "name" and not protected and letter.signer_name:
        return letter.signer_name, letter.signer_role
    return "", letter.signer_team


def letter_context(letter: DecisionLetter, settings: LetterSettings) -> dict[str, Any]:
    """Every value a letter template may use. A template uses the ones that apply to it."""
    name = template_name(letter)
    sign_name, sign_role = _signature(letter, settings)
    restrictions = [_restriction(r) for r in letter.restrictions]
    closed = any(r.type is RestrictionType.MATTER_CLOSED for r in letter.restrictions)
    outcome = letter.appeal_outcome
    if letter.complaint_stage:
        outcome_line = COMPLAINT_OUTCOMES_TOLD[outcome] if outcome else ""
    else:
        outcome_line = OUTCOMES_TOLD[outcome] if outcome else ""
    spso_named = letter.letter_kind in (LetterKind.APPEAL_OUTCOME, LetterKind.APPEAL_NOT_HEARD) and (
        letter.appeal_route is None or letter.appeal_by is None
    )
    return {
        "council_name": settings.council_name,
        "council_address": settings.address,
        "council_phone": settings.phone,
        "council_email": settings.email,
        "council_web": settings.web,
        "reference": letter.reference,
        "date": day(letter.letter_date),
        "customer_name": letter.customer_name,
        "customer_address": letter.customer_address,
        "title": TITLES[name],
        "service_area": letter.service_area,
        "explanation": letter.explanation.strip() or EXPLAINED_BY_DEFAULT.get(name, ""),
        "steps": [STEPS_TOLD[s] for s in letter.restorative_steps],
        "adjustments": letter.reasonable_adjustments or "",
        "signposting": letter.signposting or "",
        "follow_up_on": day(letter.follow_up_on) if letter.follow_up_on else "",
        "restrictions": restrictions,
        "lifted": [_restriction(r) for r in letter.lifted],
        "emergency": EMERGENCY if restrictions else "",
        "closed_matter": CLOSED_MATTER if closed else "",
        "next_review_on": day(letter.next_review_on) if letter.next_review_on else "",
        "police_told": letter.police_told,
        "police_reference": letter.police_reference or "",
        "legal_action": letter.legal_action,
        "outcome": outcome_line,
        "overturned": outcome is AppealOutcome.UPHELD and not letter.complaint_stage,
        "not_heard": NOT_HEARD_TOLD[letter.not_heard] if letter.not_heard else "",
        "appeal": _appeal(letter, settings),
        "appeal_by": day(letter.appeal_by) if letter.appeal_by else "",
        "appeal_to": ROUTE_LABELS[letter.appeal_route] if letter.appeal_route else "",
        "spso": settings.spso if spso_named else "",
        "councillor_conduct": settings.councillor_conduct
        if letter.not_heard is NotHeard.ELECTED_MEMBER
        else "",
        "told_staff": _told_staff(letter),
        "sharing": _sharing(letter, settings),
        "privacy": settings.privacy.format(
            retention=settings.retention, dpo=settings.data_protection_officer
        ),
        "formats": (
            "If you would like this letter in large print, Braille, on audio, in another language or "
            "another format, or would like someone to go through it with you, please contact us and "
            "we will arrange it."
        ),
        "sign_name": sign_name,
        "sign_role": sign_role,
        **letter.extra,
    }


def letter_docx(letter: DecisionLetter, settings: LetterSettings, *, large_print: bool) -> bytes:
    return render(
        settings.template_dir / f"{template_name(letter)}.docx",
        letter_context(letter, settings),
        large_print=large_print,
        logo=settings.logo,
    )


# --- checking a council's templates -------------------------------------------------------------

# What each template must say, or the letter fails the customer: who it is to, the date, the
# reference, and the parts of the policy's letter that apply to its kind.
ESSENTIAL = {"reference", "date", "customer_name", "customer_address", "sign_role", "privacy"}
REQUIRED: dict[str, set[str]] = {
    "restorative_approach": {"explanation", "steps", "appeal"},
    "active_management": {"explanation", "restrictions", "appeal", "sharing", "emergency"},
    "police_or_legal": {"explanation", "police_told", "legal_action", "appeal", "sharing"},
    "continuation": {"explanation", "restrictions", "next_review_on", "appeal", "sharing"},
    "variation": {"explanation", "restrictions", "appeal", "sharing"},
    "lifted": {"lifted"},
    "reinstatement": {"explanation", "restrictions", "appeal", "sharing"},
    "appeal_outcome_review_group": {"outcome", "explanation", "appeal", "spso"},
    "appeal_outcome_chief_executive": {"outcome", "explanation", "spso"},
    "complaint_stage_1": {"outcome", "explanation", "appeal"},
    "complaint_stage_2": {"outcome", "explanation", "spso"},
    "appeal_not_heard_elected_member": {"not_heard", "councillor_conduct", "spso"},
    "appeal_not_heard": {"not_heard", "spso"},
}
KNOWN = {
    *ESSENTIAL,
    *(name for names in REQUIRED.values() for name in names),
    "council_name", "council_address", "council_phone", "council_email", "council_web", "logo",
    "title", "service_area", "adjustments", "signposting", "follow_up_on", "closed_matter",
    "police_reference", "overturned", "appeal_by", "appeal_to", "told_staff", "formats", "sign_name",
}  # fmt: skip


def template_problems(template_dir: Path) -> list[str]:
    """What is wrong with a council's letter templates, each naming the file and its fields."""
    problems = []
    for name in TEMPLATE_NAMES:
        path = template_dir / f"{name}.docx"
        if not path.is_file():
            problems.append(f"{path.name} is missing")
            continue
        try:
            used = template_fields(path)
        except Exception as error:  # a template Word saved badly: say which, not a traceback
            problems.append(f"{path.name} cannot be read ({type(error).__name__}: {error})")
            continue
        if missing := sorted((ESSENTIAL | REQUIRED[name]) - used):
            problems.append(f"{path.name} lacks {', '.join(missing)}")
        if unknown := sorted(used - KNOWN):
            problems.append(f"{path.name} uses fields no letter has: {', '.join(unknown)}")
    return problems
