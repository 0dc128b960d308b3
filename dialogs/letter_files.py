"""A decision letter as a file, for the manager who opens a signed link to it."""

from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cards import appeal as appeal_cards
from cards import decision as decision_cards
from dialogs import permissions
from dialogs.appeals import clock_of
from dialogs.links import LetterLink
from dialogs.turn import Services
from letters.content import DecisionLetter, RestrictionLine, letter_docx
from policy.appeals import (
    EFFECTS,
    Appealable,
    Effect,
    NotHeard,
    Taken,
    body_of,
    hearing_for,
)
from policy.deciding import PoliceOrLegal
from policy.decisions import (
    AppealOutcome,
    AppealRoute,
    DecidingBody,
    DecisionKind,
    LetterKind,
    RestorativeStep,
    RestrictionScope,
    RestrictionStatus,
    RestrictionType,
)
from storage import appealable, audit, case_facts, decisions, people
from storage.models import (
    Appeal,
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
        if letter is None:
            return None
        appeal = await session.get(Appeal, letter.appeal_id) if letter.appeal_id else None
        decision = await session.get(Decision, letter.decision_id) if letter.decision_id else None
        incident_id = appeal.incident_id if appeal else decision.incident_id if decision else None
        incident = await session.get(Incident, incident_id) if incident_id else None
        area = await session.get(ServiceArea, incident.service_area_id) if incident else None
        customer = await session.get(Customer, letter.customer_id)
        if incident is None or area is None or customer is None or customer.anonymised_at is not None:
            return None
        roles = await people.roles_for(session, link.person_id)
        # The same rules as the card's download button, on the case's history as it is now.
        if appeal is not None:
            facts = await case_facts.for_appeal(session, appeal)
            allowed = permissions.allows(appeal_cards.LETTER_LINK, roles, link.person_id, facts)
        else:
            facts = await case_facts.for_incident(session, incident.id)
            allowed = permissions.allows(decision_cards.LETTER_LINK, roles, link.person_id, facts)
        if not allowed:
            return None
        content = await _content(session, services, letter, appeal, decision, incident, area, customer, now)
        if letter.sent_on is None and letter.dated_on != content.letter_date:
            # The copy about to be sent is dated today: the register's clock runs from that date.
            await session.execute(
                update(Letter)
                .where(Letter.id == letter.id, Letter.sent_on.is_(None))
                .values(dated_on=content.letter_date)
                .execution_options(synchronize_session=False)
            )
        await audit.record(
            session,
            now=now,
            actor_id=link.person_id,
            action="letter.downloaded",
            record_type="letter",
            record_id=letter.id,
            detail={"large_print": link.large_print},
        )
        await session.commit()
    document = letter_docx(content, services.letters, large_print=link.large_print)
    suffix = "-large-print" if link.large_print else ""
    return LetterFile(f"{incident.reference}-{letter.kind}-letter{suffix}.docx", document)


async def letter_content(session: AsyncSession, services: Services, letter: Letter) -> DecisionLetter | None:
    """What a letter says, read from the register as it is now (for a subject access pack)."""
    appeal = await session.get(Appeal, letter.appeal_id) if letter.appeal_id else None
    decision = await session.get(Decision, letter.decision_id) if letter.decision_id else None
    incident_id = appeal.incident_id if appeal else decision.incident_id if decision else None
    incident = await session.get(Incident, incident_id) if incident_id else None
    area = await session.get(ServiceArea, incident.service_area_id) if incident else None
    customer = await session.get(Customer, letter.customer_id)
    if incident is None or area is None or customer is None:
        return None
    # Dated as the copy sent (or last downloaded to send) was: the pack shows what the customer got.
    on = letter.sent_on or letter.dated_on
    when = datetime.combine(on, time(12), tzinfo=services.zone) if on else letter.produced_at
    return await _content(session, services, letter, appeal, decision, incident, area, customer, when)


async def _content(
    session: AsyncSession,
    services: Services,
    letter: Letter,
    appeal: Appeal | None,
    decision: Decision | None,
    incident: Incident,
    area: ServiceArea,
    customer: Customer,
    now: datetime,
) -> DecisionLetter:
    kind = LetterKind(letter.kind)
    # Dated the day it was sent once that is recorded, and until then the day it is downloaded
    # (to send): the time to appeal it prints runs from that date, as the register's does.
    letter_date = letter.sent_on or now.astimezone(services.zone).date()
    review = await session.get(Review, letter.review_id) if letter.review_id else None
    about = await session.get(Restriction, letter.restriction_id) if letter.restriction_id else None
    restrictions: list[Restriction] = []
    lifted: list[Restriction] = []
    taken: Taken | None = None
    # What the customer is told is what was written for them; the register's reasons never are.
    explanation = (
        review.customer_explanation
        if review is not None
        else decision.customer_explanation
        if decision
        else None
    )
    signer = decision.decided_by_id if decision else letter.produced_by_id
    outcome = AppealOutcome(appeal.outcome) if appeal is not None and appeal.outcome else None
    team = f"{area.name} Management Team"
    role = f"Manager, {area.name}"
    if kind is LetterKind.DECISION and decision is not None:
        restrictions = [
            r for r in await decisions.restrictions_of(session, decision.id) if r.replaces_id is None
        ]
        taken = Taken(
            Appealable.DECISION,
            DecidingBody(decision.deciding_body),
            decision.decided_at.astimezone(services.zone).date(),
            letter_date,
        )
    elif kind is LetterKind.LIFTED and about is not None:
        lifted = [about]
        signer = review.reviewer_id if review is not None else signer
    elif kind in REVIEW_LETTERS and review is not None:
        restrictions = [about] if about is not None else []
        signer = review.reviewer_id
        taken = Taken(
            REVIEW_LETTERS[kind],
            DecidingBody(review.deciding_body),
            review.done_at.astimezone(services.zone).date(),
            letter_date,
        )
    elif kind is LetterKind.APPEAL_OUTCOME and appeal is not None and appeal.route is not None:
        appealed = await appealable.appealed_restrictions(session, appeal)
        effect = EFFECTS[outcome] if outcome else Effect.CONFIRMED
        if appeal.route == AppealRoute.COMPLAINTS_PROCEDURE.value:
            pass  # a complaint's response changes no restriction
        elif effect is Effect.VARIED:
            restrictions = list(
                (
                    await session.scalars(
                        select(Restriction).where(Restriction.replaces_id.in_([r.id for r in appealed]))
                    )
                ).all()
            )
        elif effect is Effect.OVERTURNED:
            lifted = appealed
        else:
            restrictions = appealed
        explanation = appeal.outcome_explanation
        signer = appeal.outcome_by_id or letter.produced_by_id
        route = AppealRoute(appeal.route)
        role, team = ROUTE_SIGNATURES[route]
        complaint = route is AppealRoute.COMPLAINTS_PROCEDURE
        taken = Taken(
            Appealable.COMPLAINT_RESPONSE if complaint else Appealable.APPEAL_OUTCOME,
            body_of(route),
            (appeal.outcome_at or now).astimezone(services.zone).date(),
            letter_date,
            stage=appeal.stage,
            action_on=incident.occurred_at.astimezone(services.zone).date() if complaint else None,
        )
    elif kind is LetterKind.APPEAL_NOT_HEARD and appeal is not None:
        explanation = ""  # the letter gives the policy's reason in the customer's words
        signer = letter.produced_by_id
        role, team = f"for {area.name}", f"{area.name} service"
    elif about is not None:
        restrictions = [about]
    hearing = hearing_for(taken, clock_of(services)) if taken is not None else None
    if isinstance(hearing, NotHeard) or (outcome is AppealOutcome.UPHELD):
        hearing = None  # nothing further here: the ombudsman, or nothing left to appeal
    steps = (
        (
            await session.scalars(
                select(RestorativeStepTaken.step).where(RestorativeStepTaken.decision_id == decision.id)
            )
        ).all()
        if decision is not None and kind is LetterKind.DECISION
        else []
    )
    decision_kind = DecisionKind(decision.kind) if decision else DecisionKind.NO_FURTHER_ACTION
    action = PoliceOrLegal(decision.action_taken) if decision and decision.action_taken else None
    police_decision = kind is LetterKind.DECISION and decision_kind is DecisionKind.POLICE_OR_LEGAL
    police_told = incident.police_called or action in (PoliceOrLegal.POLICE, PoliceOrLegal.BOTH)
    if police_decision and action is None:  # recorded before the form asked which
        police_told = police_told or bool(decision and decision.police_reference)
    legal = police_decision and (
        action in (PoliceOrLegal.LEGAL, PoliceOrLegal.BOTH) or (action is None and not police_told)
    )
    return DecisionLetter(
        reference=incident.reference,
        letter_date=letter_date,
        customer_name=customer.name,
        customer_address="\n".join(p for p in (customer.address, customer.postcode) if p),
        kind=decision_kind,
        explanation=explanation or "",
        service_area=area.name,
        council_wide=any(r.scope == RestrictionScope.COUNCIL_WIDE.value for r in restrictions),
        appeal_route=hearing.route if hearing else None,
        appeal_by=hearing.time_limit if hearing else None,
        signer_name=await decisions.name_of(session, signer),
        signer_role=role,
        signer_team=team,
        restorative_steps=[RestorativeStep(s) for s in steps],
        reasonable_adjustments=decision.reasonable_adjustments
        if decision and police_decision is False
        else None,
        signposting=decision.signposting if decision else None,
        follow_up_on=decision.follow_up_on if decision else None,
        restrictions=[_line(r) for r in restrictions],
        letter_kind=kind,
        lifted=[_line(r) for r in lifted],
        appeal_outcome=outcome,
        heard_by=AppealRoute(appeal.route) if appeal is not None and appeal.route else None,
        complaint_stage=appeal.stage if appeal is not None and kind is LetterKind.APPEAL_OUTCOME else None,
        not_heard=NotHeard(appeal.not_heard) if appeal is not None and appeal.not_heard else None,
        protects_staff=await _protects_staff(session, customer.id, [*restrictions, *lifted]),
        police_told=police_told,
        police_reference=(decision.police_reference if decision else None) if police_decision else None,
        legal_action=legal,
        next_review_on=review.next_review_on
        if review is not None and kind is LetterKind.CONTINUATION
        else None,
    )


# A review's letter tells the customer of a new decision, appealable in its own right.
REVIEW_LETTERS = {
    LetterKind.VARIATION: Appealable.VARIATION,
    LetterKind.REINSTATEMENT: Appealable.REINSTATEMENT,
    LetterKind.CONTINUATION: Appealable.CONTINUATION,
}
# Who signs for the body that heard an appeal: (with a name, without one).
ROUTE_SIGNATURES = {
    AppealRoute.COMPLAINTS_PROCEDURE: ("Complaints Team", "Complaints Team"),
    AppealRoute.COMPLAINTS_REVIEW_GROUP: ("for the Complaints Review Group", "The Complaints Review Group"),
    AppealRoute.CHIEF_EXECUTIVE: ("Chief Executive", "Chief Executive"),
}


async def _protects_staff(session: AsyncSession, customer_id: int, in_letter: list[Restriction]) -> bool:
    """A restriction protects the staff who deal with this customer: no name goes in a letter."""
    if any(r.type == RestrictionType.PROTECT_STAFF.value for r in in_letter):
        return True
    found = await session.scalar(
        select(Restriction.id)
        .where(
            Restriction.customer_id == customer_id,
            Restriction.type == RestrictionType.PROTECT_STAFF.value,
            Restriction.status == RestrictionStatus.ACTIVE.value,
        )
        .limit(1)
    )
    return found is not None


def _line(r: Restriction) -> RestrictionLine:
    return RestrictionLine(RestrictionType(r.type), r.details, r.starts_on, r.ends_on, r.review_due_on)
