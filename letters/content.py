"""What a decision letter says, worked out from the decision: why, what action, how long, how to
appeal, and who the information is shared with and where it is recorded."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from letters.render import Value, fill
from policy.appeals import ROUTE_LABELS
from policy.decisions import RESTRICTION_LABELS, AppealRoute, DecisionKind, LetterKind, RestrictionType

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
        "www.spso.org.uk, call freephone 0800 377 7330, or write to Freepost SPSO."
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
    appeal_route: AppealRoute
    appeal_by: date
    signatory: str
    restorative_steps: Sequence[str] = ()
    reasonable_adjustments: str | None = None
    signposting: str | None = None
    follow_up_on: date | None = None
    restrictions: Sequence[RestrictionLine] = ()
    letter_kind: LetterKind = LetterKind.DECISION
    lifted: Sequence[RestrictionLine] = ()  # for a lifting, what no longer applies
    appeal_outcome: str | None = None  # upheld, varied or overturned
    spso_next: bool = False  # no further internal appeal: the ombudsman is the next step


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
}
APPEAL_OUTCOME_LINES = {
    "upheld": "Your appeal was not upheld: the decision and its restrictions stay as they were.",
    "varied": "Your appeal was partly upheld: we have changed the restrictions as set out below.",
    "overturned": "Your appeal was upheld: the restrictions are lifted.",
}


def _what_action(letter: DecisionLetter) -> list[str]:
    if letter.letter_kind is LetterKind.APPEAL_OUTCOME:
        lines = [APPEAL_OUTCOME_LINES.get(letter.appeal_outcome or "", "")]
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


def decision_values(letter: DecisionLetter, settings: LetterSettings) -> dict[str, Value]:
    route = ROUTE_LABELS[letter.appeal_route]
    appeal = (
        f"If you disagree with this decision you can appeal. Your appeal will be considered by "
        f"{route}. Please {settings.appeal_contact} by {_day(letter.appeal_by)} "
        f"({settings.appeal_working_days} working days from the date of this letter), saying why "
        "you disagree. Appeals consider only arguments about the restrictions."
    )
    if letter.letter_kind is LetterKind.LIFTED:
        appeal = "There is nothing to appeal. If you have any questions about this letter, please contact us."
    if letter.spso_next:
        appeal = settings.spso
    elif letter.letter_kind is LetterKind.APPEAL_OUTCOME:
        # However it was decided, the customer who remains dissatisfied may go to the ombudsman.
        appeal = f"{appeal} {settings.spso}"
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
        "title": KIND_TITLES.get(letter.letter_kind, TITLES[letter.kind]),
        "opening": OPENINGS[letter.letter_kind],
        "why": letter.reasons,
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
