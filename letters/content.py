"""What a decision letter says, worked out from the decision: why, what action, how long, how to
appeal, and who the information is shared with and where it is recorded."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from letters.render import Value, fill
from policy.appeals import ROUTE_LABELS, NotHeard
from policy.decisions import (
    RESTRICTION_LABELS,
    AppealOutcome,
    AppealRoute,
    DecisionKind,
    LetterKind,
    RestrictionType,
)

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class LetterSettings:
    council_name: str = "The Council"
    appeal_contact: str = (
        "write to the Complaints Team at the council's headquarters, or email the address on "
        "the council's website"
    )
    appeal_working_days: int = 20
    template_dir: Path = TEMPLATES
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


@dataclass(frozen=True)
class RestrictionLine:
    type: RestrictionType
    details: str
    starts_on: date
    ends_on: date | None
    review_due_on: date | None


@dataclass(frozen=True)
class DecisionLetter:
    reference: str
    letter_date: date
    customer_name: str
    customer_address: str
    kind: DecisionKind
    reasons: str
    service_area: str
    council_wide: bool
    appeal_route: AppealRoute | None  # where an appeal against this goes; none: no further here
    appeal_by: date | None  # the last day to appeal (or to ask for Stage 2), as the register holds it
    signatory: str
    restorative_steps: Sequence[str] = ()
    reasonable_adjustments: str | None = None
    signposting: str | None = None
    follow_up_on: date | None = None
    restrictions: Sequence[RestrictionLine] = ()
    letter_kind: LetterKind = LetterKind.DECISION
    lifted: Sequence[RestrictionLine] = ()  # for a lifting, what no longer applies
    appeal_outcome: AppealOutcome | None = None
    spso_next: bool = False  # no further internal appeal: the ombudsman is the next step
    complaint_stage: int | None = None  # a complaint's response: the stage it was at
    not_heard: NotHeard | None = None  # an appeal the policy gives no route: why


def _day(value: date) -> str:
    return f"{value.day} {value.strftime('%B %Y')}"


TITLES = {
    DecisionKind.RESTORATIVE_APPROACH: "How we will work with you",
    DecisionKind.ACTIVE_MANAGEMENT: "Managing how you contact us",
    DecisionKind.POLICE_OR_LEGAL: "Action we have taken",
    DecisionKind.NO_FURTHER_ACTION: "Our decision",
}


OPENINGS = {
    LetterKind.DECISION: (
        "We want everyone who contacts us to be able to do so positively. This letter explains "
        "a decision we have made under our Managing Customer Engagement Policy."
    ),
    LetterKind.VARIATION: (
        "We have reviewed the arrangements for how you contact us under our Managing Customer "
        "Engagement Policy, and we have changed them. This letter explains the new arrangements."
    ),
    LetterKind.CONTINUATION: (
        "We told you we would review the arrangements for how you contact us under our Managing "
        "Customer Engagement Policy, and tell you the outcome. We have reviewed them, and they "
        "continue. This letter explains why, and when we will review them again."
    ),
    LetterKind.LIFTED: (
        "We have reviewed the arrangements for how you contact us under our Managing Customer "
        "Engagement Policy. We are pleased to tell you that we have lifted them."
    ),
    LetterKind.APPEAL_OUTCOME: (
        "You appealed against a decision we made under our Managing Customer Engagement Policy. "
        "This letter tells you the outcome of your appeal and the reasons for it."
    ),
    LetterKind.APPEAL_NOT_HEARD: (
        "You asked us to look again at action taken under our Managing Customer Engagement Policy. "
        "This letter explains why we cannot consider it as an appeal, and where else you can go."
    ),
    LetterKind.REINSTATEMENT: (
        "We wrote to you before about arrangements for how you contact us, which we later lifted. "
        "Unfortunately we have had to reinstate them. This letter explains why and what applies."
    ),
}
KIND_TITLES = {
    LetterKind.VARIATION: "Changes to how you contact us",
    LetterKind.CONTINUATION: "Your restrictions continue",
    LetterKind.LIFTED: "Restrictions lifted",
    LetterKind.REINSTATEMENT: "Restrictions reinstated",
    LetterKind.APPEAL_OUTCOME: "The outcome of your appeal",
    LetterKind.APPEAL_NOT_HEARD: "Your appeal",
}
COMPLAINT_OPENING = (
    "You complained about action a member of our staff took when dealing with you. This letter "
    "tells you the outcome of your complaint at {stage} of our complaints handling procedure, and "
    "the reasons for it."
)
STAGES = {1: "Stage 1", 2: "Stage 2"}
# The customer's side: upheld means the decision appealed is overturned.
APPEAL_OUTCOME_LINES = {
    AppealOutcome.NOT_UPHELD: (
        "Your appeal was not upheld: the decision and its restrictions stay as they were."
    ),
    AppealOutcome.PARTLY_UPHELD: (
        "Your appeal was partly upheld: we have changed the restrictions as set out below."
    ),
    AppealOutcome.UPHELD: "Your appeal was upheld: we have overturned the decision.",
}
COMPLAINT_OUTCOME_LINES = {
    AppealOutcome.NOT_UPHELD: "Your complaint was not upheld.",
    AppealOutcome.PARTLY_UPHELD: "Your complaint was partly upheld.",
    AppealOutcome.UPHELD: "Your complaint was upheld.",
}
NOT_HEARD_LINES = {
    NotHeard.ELECTED_MEMBER: (
        "The appeal process of our policy does not apply to action taken by elected members."
    ),
    NotHeard.CHIEF_EXECUTIVE: (
        "Your appeal has already been considered by the Chief Executive, the last stage of appeal "
        "within the council."
    ),
    NotHeard.STAGE_TWO_DONE: (
        "Your complaint has already been considered at Stage 2, the last stage of our complaints "
        "handling procedure."
    ),
}


def _what_action(letter: DecisionLetter) -> list[str]:
    if letter.letter_kind is LetterKind.APPEAL_NOT_HEARD:
        return ["We have recorded that you asked, but we cannot consider it as an appeal under our policy."]
    if letter.letter_kind is LetterKind.APPEAL_OUTCOME and letter.complaint_stage:
        return [COMPLAINT_OUTCOME_LINES[letter.appeal_outcome]] if letter.appeal_outcome else []
    if letter.letter_kind is LetterKind.APPEAL_OUTCOME:
        lines = [APPEAL_OUTCOME_LINES[letter.appeal_outcome]] if letter.appeal_outcome else []
        lines += [f"{RESTRICTION_LABELS[r.type]}: {r.details}" for r in letter.restrictions]
        lines += [f"No longer applies: {RESTRICTION_LABELS[r.type]}: {r.details}" for r in letter.lifted]
        return [line for line in lines if line]
    if letter.letter_kind is LetterKind.LIFTED:
        return [f"No longer applies: {RESTRICTION_LABELS[r.type]}: {r.details}" for r in letter.lifted] + [
            "You can contact us in the usual ways again."
        ]
    if letter.kind is DecisionKind.RESTORATIVE_APPROACH:
        lines = [f"We have: {step.lower()}." for step in letter.restorative_steps]
        if letter.reasonable_adjustments:
            lines.append(f"Reasonable adjustments we offer: {letter.reasonable_adjustments}")
        if letter.signposting:
            lines.append(f"Independent advice and support: {letter.signposting}")
        return lines or ["We will work with you to restore a positive relationship."]
    if letter.kind is DecisionKind.ACTIVE_MANAGEMENT:
        lines = [f"{RESTRICTION_LABELS[r.type]}: {r.details}" for r in letter.restrictions]
        lines.append("You can always contact us to report an emergency.")
        return lines
    if letter.kind is DecisionKind.POLICE_OR_LEGAL:
        return ["We have reported the matter to the police or are taking legal action."]
    return ["We are taking no further action."]


def _how_long(letter: DecisionLetter) -> list[str]:
    if letter.letter_kind is LetterKind.APPEAL_NOT_HEARD or letter.complaint_stage:
        return []
    if letter.letter_kind is LetterKind.APPEAL_OUTCOME and not letter.restrictions:
        return ["From the date of this letter."]
    if letter.letter_kind is LetterKind.LIFTED:
        return [f"The restrictions ended on {_day(letter.letter_date)}."]
    if letter.kind is DecisionKind.RESTORATIVE_APPROACH:
        if letter.follow_up_on:
            return [f"We will follow this up with you on or after {_day(letter.follow_up_on)}."]
        return ["There is no set end date: we want to restore a positive relationship."]
    lines = []
    for r in letter.restrictions:
        label = RESTRICTION_LABELS[r.type]
        span = f"from {_day(r.starts_on)}" + (f" until {_day(r.ends_on)}" if r.ends_on else "")
        review = (
            f"; we will review it by {_day(r.review_due_on)} and tell you the outcome"
            if r.review_due_on
            else "; it will not be routinely reviewed"
        )
        lines.append(f"{label}: {span}{review}.")
    return lines or ["Until we tell you otherwise."]


def _appeal(letter: DecisionLetter, settings: LetterSettings) -> str:
    """What the customer can do next: the route and the date the register holds them to."""
    if letter.letter_kind is LetterKind.LIFTED:
        return "There is nothing to appeal. If you have any questions about this letter, please contact us."
    if letter.letter_kind is LetterKind.APPEAL_NOT_HEARD:
        if letter.not_heard is NotHeard.ELECTED_MEMBER:
            return f"{settings.councillor_conduct} {settings.spso}"
        return settings.spso
    if letter.appeal_route is None or letter.appeal_by is None or letter.spso_next:
        return settings.spso
    by = _day(letter.appeal_by)
    if letter.complaint_stage == 1:
        # The ombudsman normally looks at a complaint only once Stage 2 is done.
        return (
            "If you remain dissatisfied, you can ask us to look at your complaint again at Stage 2 of "
            f"our complaints handling procedure. Please {settings.appeal_contact} by {by}, saying why "
            "you remain dissatisfied."
        )
    appeal = (
        f"If you disagree with this decision you can appeal. Your appeal will be considered by "
        f"{ROUTE_LABELS[letter.appeal_route]}. Please {settings.appeal_contact} by {by} "
        f"({settings.appeal_working_days} working days from the date of this letter), saying why "
        "you disagree. Appeals consider only arguments about the restrictions."
    )
    if letter.letter_kind is LetterKind.APPEAL_OUTCOME:
        appeal += (
            " If you remain dissatisfied once the Chief Executive has considered your appeal, you "
            "can then go to the Scottish Public Services Ombudsman; that letter will tell you how."
        )
    return appeal


def decision_values(letter: DecisionLetter, settings: LetterSettings) -> dict[str, Value]:
    appeal = _appeal(letter, settings)
    opening = OPENINGS[letter.letter_kind]
    title = KIND_TITLES.get(letter.letter_kind, TITLES[letter.kind])
    if letter.complaint_stage:
        opening = COMPLAINT_OPENING.format(stage=STAGES[letter.complaint_stage])
        title = "The outcome of your complaint"
    shared = (
        "Staff across the council who may deal with you are told how to handle your contact."
        if letter.council_wide
        else f"Staff in {letter.service_area} who may deal with you are told how to handle your contact."
    )
    return {
        "council_name": settings.council_name,
        "reference": letter.reference,
        "date": _day(letter.letter_date),
        "customer_name": letter.customer_name,
        "customer_address": letter.customer_address,
        "title": title,
        "opening": opening,
        "why": NOT_HEARD_LINES[letter.not_heard] if letter.not_heard else letter.reasons,
        "what_action": _what_action(letter),
        "how_long": _how_long(letter),
        "appeal": appeal,
        "shared_with": shared,
        "recorded_where": (
            "This decision is recorded on the council's secure, restricted-access register and on our "
            "Customer Relationship Management system. Only staff who need it can see it, and every "
            "view is logged."
        ),
        "formats": (
            "You can ask for this letter in large print, on audio, in another language or another "
            "format, and for an officer to meet you to explain it."
        ),
        "signatory": letter.signatory,
    }


def decision_docx(letter: DecisionLetter, settings: LetterSettings, *, large_print: bool) -> bytes:
    return fill(
        settings.template_dir / "decision.docx",
        decision_values(letter, settings),
        large_print=large_print,
    )
