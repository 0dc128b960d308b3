"""A decision letter as a file, for the manager who opens a signed link to it."""

from dataclasses import dataclass

from sqlalchemy import select

from dialogs.links import LetterLink
from dialogs.turn import Services
from letters.content import DecisionLetter, RestrictionLine, decision_docx
from policy.appeals import route_for
from policy.decisions import (
    RESTORATIVE_STEP_LABELS,
    DecidingBody,
    DecisionKind,
    LetterKind,
    RestorativeStep,
    RestrictionScope,
    RestrictionType,
)
from policy.roles import may_decide
from policy.working_days import add_working_days
from storage import audit, decisions, people
from storage.models import (
    Customer,
    Decision,
    Incident,
    Letter,
    RestorativeStepTaken,
    Restriction,
    Review,
    ServiceArea,
)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class LetterFile:
    filename: str
    content: bytes
    content_type: str = DOCX


async def letter_file(services: Services, link: LetterLink) -> LetterFile | None:
    """The letter, if the person the link was made for may still have it; the read is audited."""
    now = services.clock()
    async with services.sessions() as session:
        letter = await session.get(Letter, link.letter_id)
        decision = await session.get(Decision, letter.decision_id) if letter and letter.decision_id else None
        incident = await session.get(Incident, decision.incident_id) if decision else None
        if letter is None or decision is None or incident is None:
            return None
        area = await session.get(ServiceArea, incident.service_area_id)
        roles = await people.roles_for(session, link.person_id)
        if area is None or not may_decide(
            roles, service_area=area.key, is_reporter=incident.reporter_id == link.person_id
        ):
            return None
        customer = await session.get(Customer, incident.customer_id)
        if customer is None or customer.anonymised_at is not None:
            return None
        kind = LetterKind(letter.kind)
        review = await session.get(Review, letter.review_id) if letter.review_id else None
        about = await session.get(Restriction, letter.restriction_id) if letter.restriction_id else None
        restrictions = (
            await decisions.restrictions_of(session, decision.id)
            if kind is LetterKind.DECISION
            else [about]
            if about is not None and kind is not LetterKind.LIFTED
            else []
        )
        steps = (
            await session.scalars(
                select(RestorativeStepTaken.step).where(RestorativeStepTaken.decision_id == decision.id)
            )
        ).all()
        letter_date = now.astimezone(services.zone).date()
        body = DecidingBody(decision.deciding_body)
        content = DecisionLetter(
            reference=incident.reference,
            letter_date=letter_date,
            customer_name=customer.name,
            customer_address="\n".join(p for p in (customer.address, customer.postcode) if p),
            kind=DecisionKind(decision.kind),
            reasons=review.reasons if review is not None else decision.reasons,
            service_area=area.name,
            council_wide=any(r.scope == RestrictionScope.COUNCIL_WIDE.value for r in restrictions),
            appeal_route=route_for(body),
            appeal_by=add_working_days(letter_date, services.letters.appeal_working_days, services.holidays),
            signatory=f"{await decisions.name_of(session, decision.decided_by_id)}, for {area.name}",
            restorative_steps=[RESTORATIVE_STEP_LABELS[RestorativeStep(s)] for s in steps],
            reasonable_adjustments=decision.reasonable_adjustments,
            signposting=decision.signposting,
            follow_up_on=decision.follow_up_on,
            restrictions=[_line(r) for r in restrictions],
            letter_kind=kind,
            lifted=[_line(about)] if kind is LetterKind.LIFTED and about is not None else [],
        )
        audit.record(
            session,
            now=now,
            actor_id=link.person_id,
            action="letter.downloaded",
            record_type="letter",
            record_id=letter.id,
            detail={"large_print": link.large_print},
        )
        await session.commit()
    document = decision_docx(content, services.letters, large_print=link.large_print)
    suffix = "-large-print" if link.large_print else ""
    return LetterFile(f"{incident.reference}-{kind.value}-letter{suffix}.docx", document)


def _line(r: Restriction) -> RestrictionLine:
    return RestrictionLine(RestrictionType(r.type), r.details, r.starts_on, r.ends_on, r.review_due_on)
