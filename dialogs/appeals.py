"""Appeals, routed by who took the decision appealed, in what capacity (`policy.appeals`).

An employee's immediate action goes to the complaints handling procedure (Stage 1, then Stage 2);
a manager's decision (a first decision, a review's variation, a reinstatement) to the Complaints
Review Group, in its channel; a decision of the Complaints Review Group to the Chief Executive.
An appeal the policy gives no route (an elected member's action; beyond the Chief Executive or
Stage 2) is recorded as going no further, with a letter saying where else the customer can go.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cards import appeal as cards
from cards.decision import (
    letter_not_appropriate_card,
    letter_sent_card,
    no_access_card,
    no_access_text,
    with_download,
)
from cards.elements import Card, card, execute, heading, text
from cards.formatting import local_date, local_time
from dialogs import decide, decision_form, letter_links, permissions, refusals, review_channel, reviews
from dialogs.commands import command
from dialogs.decide import NO_LINKS, OUT_OF_DATE, customer_label, restriction_period
from dialogs.ids import record_id
from dialogs.notify import card_message, tell_keepers
from dialogs.turn import Actor, CloseDialog, DialogAnswer, Reply, Services, ShowStep
from policy.appeals import (
    EFFECTS,
    HEARERS,
    NOT_HEARD_REASONS,
    OUTCOME_LABELS,
    ROUTE_LABELS,
    STAGE_LABELS,
    Appealable,
    Clock,
    Effect,
    NotHeard,
    hearing_for,
    outcome_due,
    outcome_words,
    respond_by,
)
from policy.categories import Category
from policy.deciding import RestrictionDraft, problems
from policy.decisions import (
    DECISION_LABELS,
    RESTRICTION_LABELS,
    AppealOutcome,
    AppealRoute,
    DecidingBody,
    DecisionKind,
    LetterKind,
    RestrictionStatus,
    RestrictionType,
    ReviewOutcome,
)
from policy.permissions import Facts
from policy.roles import may_log_any_appeal, may_log_appeal
from storage import appealable, audit, case_facts, decisions, incidents, outbox, people
from storage.models import (
    Appeal,
    AppealedRestriction,
    CouncilSetting,
    Customer,
    Decision,
    Incident,
    Letter,
    Restriction,
    Review,
    ServiceArea,
)

CRG_CHANNEL = "crg_channel"
WHO_LOGS_APPEALS = (
    "Appeals are logged by the complaints team, the service's managers and the register keepers."
)
HEARERS_ONLY = "Only the body hearing the appeal and the register keepers do."
POSTED = "appeal.posted"
CARD_UPDATED = "appeal.card_updated"
# Channel messages that show the appeal's card (the customer, the substance): the sender reads the
# channel's roster again before posting them (`review_channel.ChannelGuard`). The overdue reminder
# in the thread names only the incident's reference, and goes unchecked.
FOR_THE_GROUP_ONLY = frozenset({POSTED, CARD_UPDATED})
REFERENCE = r"INC-\d{4}-\d{5}"


ALREADY_OPEN = "There is already an open appeal on this. Nothing was stored."
OUTCOME_RECORDED = "This appeal's outcome is already recorded. Nothing was changed."


# --- the Complaints Review Group's channel ------------------------------------------------------


async def review_group_channel(session: AsyncSession, configured: str | None = None) -> str | None:
    """The channel a register keeper set from Teams, else the one configured at start."""
    setting = await session.get(CouncilSetting, CRG_CHANNEL)
    return setting.value if setting else configured


@command(
    r"set review group channel",
    "set review group channel",
    "in the Complaints Review Group's channel, @mentioning me: post appeals there",
    allowed=lambda roles: roles.is_register_keeper,
)
async def _set_channel(services: Services, actor: Actor, _match: re.Match[str]) -> list[Reply]:
    if not actor.channel_id:
        return [
            Reply(text="Run **set review group channel** in the Complaints Review Group's channel itself.")
        ]
    refused = await review_channel.refusal(services, actor, actor.channel_id)
    if refused:
        return [Reply(text=refused)]
    now = services.clock()
    async with services.sessions() as session:
        setting = await session.get(CouncilSetting, CRG_CHANNEL)
        if setting is None:
            session.add(
                CouncilSetting(
                    key=CRG_CHANNEL, value=actor.channel_id, changed_by_id=actor.person_id, changed_at=now
                )
            )
        else:
            setting.value, setting.changed_by_id, setting.changed_at = actor.channel_id, actor.person_id, now
        await review_channel.trust_again(session)
        await audit.record(
            session,
            now=now,
            actor_id=actor.person_id,
            action="appeals.channel_set",
            record_type="setting",
            record_id=CRG_CHANNEL,
        )
        await session.commit()
    return [
        Reply(
            text="Done: appeals to the Complaints Review Group will be posted in this channel, "
            "each as a new thread."
        )
    ]


# --- logging an appeal --------------------------------------------------------------------------


def _sentence(label: str) -> str:
    """ "the Complaints Review Group" at the start of a sentence."""
    return label[:1].upper() + label[1:]


def clock_of(services: Services) -> Clock:
    return Clock(
        services.letters.appeal_working_days, services.appeal_outcome_working_days, services.holidays
    )


def _what(d: appealable.Decided, incident: Incident) -> str:
    """The decision in a line, as the person logging the appeal recognises it."""
    taken = d.taken
    day = local_date(taken.taken_on)
    if taken.kind is Appealable.IMMEDIATE_ACTION:
        return f"The employee's immediate action: {_acts(incident, done=True)}, {day}"
    if taken.kind is Appealable.DECISION and d.decision is not None:
        return f"The manager's decision: {DECISION_LABELS[DecisionKind(d.decision.kind)]}, {day}"
    if taken.kind is Appealable.VARIATION:
        return f"The variation of a restriction at review, {day}"
    if taken.kind is Appealable.CONTINUATION:
        return f"The continuation of a restriction at review, {day}"
    if taken.kind is Appealable.REINSTATEMENT:
        return f"The reinstatement of a restriction, {day}"
    earlier = d.earlier
    outcome = OUTCOME_LABELS[AppealOutcome(earlier.outcome)] if earlier and earlier.outcome else ""
    if taken.kind is Appealable.COMPLAINT_RESPONSE:
        return f"The Stage {taken.stage} response to the complaint ({outcome.lower()}), {day}"
    body = (
        "The Complaints Review Group's"
        if taken.capacity is DecidingBody.COMPLAINTS_REVIEW_GROUP
        else "The Chief Executive's"
    )
    return f"{body} decision on appeal ({outcome.lower()}), {day}"


def _where(d: appealable.Decided, clock: Clock, today: date) -> str:
    """Where an appeal against it goes and by when, or why it goes no further."""
    hearing = hearing_for(d.taken, clock)
    if isinstance(hearing, NotHeard):
        return {
            NotHeard.ELECTED_MEMBER: "taken by an elected member: not appealable",
            NotHeard.CHIEF_EXECUTIVE: "no further internal appeal: the SPSO",
            NotHeard.STAGE_TWO_DONE: "the complaints handling procedure is finished: the SPSO",
        }[hearing]
    where = ROUTE_LABELS[hearing.route]
    if hearing.stage:
        where = f"{where}, {STAGE_LABELS[hearing.stage]}"
    if today > hearing.time_limit:
        return f"{where}; the time limit passed on {local_date(hearing.time_limit)}"
    return f"{where}, by {local_date(hearing.time_limit)}"


async def _offered(session: AsyncSession, services: Services, incident: Incident) -> list[appealable.Decided]:
    """What can still be appealed: nothing open or heard against it; newest first."""
    return [d for d in await appealable.on_incident(session, incident, services.zone) if d.can_be_appealed]


def _restriction_choices(offered: Sequence[appealable.Decided]) -> list[tuple[str, str]]:
    seen: dict[int, str] = {}
    for d in offered:
        for r in d.restrictions:
            seen.setdefault(r.id, f"{RESTRICTION_LABELS[RestrictionType(r.type)]}: {r.details}")
    return [(str(k), v) for k, v in sorted(seen.items())]


async def _form(
    session: AsyncSession,
    services: Services,
    incident: Incident,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    notice: str | None = None,
) -> ShowStep:
    offered = await _offered(session, services, incident)
    clock, today = clock_of(services), services.today()
    form = cards.log_form(
        incident.id,
        incident.reference,
        [(d.step, f"{_what(d, incident)} · {_where(d, clock, today)}") for d in offered],
        _restriction_choices(offered),
        values,
        errors,
        today.isoformat(),
        notice,
    )
    return ShowStep(form, f"Log an appeal on {incident.reference}")


@command(
    rf"appeal\s+({REFERENCE})",
    "appeal INC-2026-00042",
    "log an appeal or complaint the customer made",
    phrases=("log an appeal", "customer appealed", "record an appeal", "log a complaint"),
    allowed=may_log_any_appeal,
    refusal=WHO_LOGS_APPEALS,
)
async def _appeal(services: Services, actor: Actor, match: re.Match[str]) -> list[Reply]:
    reference = match.group(1).upper()
    async with services.sessions() as session:
        incident = await incidents.by_reference(session, reference)
        area = await session.get(ServiceArea, incident.service_area_id) if incident else None
        if incident is None or area is None or not may_log_appeal(actor.roles, service_area=area.key):
            await refusals.record(
                session,
                services,
                actor,
                "appeal",
                record_type="incident",
                record_id=incident.id if incident else None,
            )
            return [
                Reply(
                    text=f"I can't find an incident {reference} on which you can log an appeal. "
                    + WHO_LOGS_APPEALS
                )
            ]
        if not await _offered(session, services, incident):
            return [
                Reply(
                    text=f"There is nothing on {reference} to appeal now: no decision applying the "
                    "policy, no contact ended, or every one is already appealed."
                )
            ]
        return [
            Reply(card=cards.log_launcher(incident.id, reference), summary=f"Log an appeal on {reference}")
        ]


async def _log(
    session: AsyncSession, services: Services, actor: Actor, incident: Incident, data: Mapping[str, Any]
) -> DialogAnswer:
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    errors: dict[str, str] = {}
    everything = await appealable.on_incident(session, incident, services.zone)
    chosen = next((d for d in everything if d.step == values.get("against")), None)
    if chosen is None:
        errors["against"] = "Choose what is appealed from the list"
    elif chosen.open_appeal is not None:
        return await _form(
            session,
            services,
            incident,
            values,
            {},
            f"There is already an open appeal on this, logged {local_date(chosen.open_appeal.received_on)}. "
            "Nothing was stored.",
        )
    elif chosen.heard is not None:
        errors["against"] = "This has been heard: appeal against the outcome instead"
    try:
        received = date.fromisoformat(values.get("received_on", ""))
    except ValueError:
        received = None
        errors["received_on"] = "Enter the date the appeal was received, like 2026-11-23"
    if received is not None and received > services.today():
        errors["received_on"] = "The date received cannot be in the future"
    elif received is not None and chosen is not None and received < chosen.taken.taken_on:
        errors["received_on"] = "The appeal cannot have been received before the decision"
    grounds = values.get("grounds", "").strip()
    if not grounds:
        errors["grounds"] = "Record the grounds of the appeal, in the customer's words"
    elif len(grounds) > 4000:
        errors["grounds"] = "Keep this to 4,000 characters"
    offered = {r.id for r in chosen.restrictions} if chosen else set()
    ticked = {record_id(v) for v in values.get("restrictions", "").split(",") if v}
    if not ticked <= offered:
        errors["restrictions"] = "Choose only restrictions of the decision appealed"
    if errors or chosen is None or received is None:
        return await _form(session, services, incident, values, errors)
    clock = clock_of(services)
    hearing = hearing_for(chosen.taken, clock)
    now = services.clock()
    if isinstance(hearing, NotHeard):
        return await _not_heard(session, services, actor, incident, chosen, hearing, received, grounds, now)
    late = received > hearing.time_limit
    appeal = _received(
        incident,
        chosen,
        actor,
        received,
        grounds,
        now,
        route=hearing.route.value,
        stage=hearing.stage,
        time_limit_on=hearing.time_limit,
        respond_by=respond_by(hearing, received, clock),
        late=late,
        status=appealable.OPEN,
        open_key=f"{incident.id}:{chosen.step}",
    )
    try:
        async with session.begin_nested():
            session.add(appeal)
            await session.flush()
    except IntegrityError:
        # Logged at the same moment by someone else: theirs stands.
        return await _form(session, services, incident, values, {}, ALREADY_OPEN)
    covered = sorted(ticked or offered)
    for restriction_id in covered:
        session.add(AppealedRestriction(appeal_id=appeal.id, restriction_id=restriction_id))
    await audit.record(
        session,
        now=now,
        actor_id=actor.person_id,
        action="appeal.logged",
        record_type="appeal",
        record_id=appeal.id,
        detail={
            "incident": incident.reference,
            "against": chosen.step,
            "route": hearing.route.value,
            "stage": hearing.stage,
            "late": late,
            "restrictions": covered,
        },
    )
    await session.flush()
    await _send_to_hearing_body(session, services, appeal, now)
    await session.commit()
    services.outbox_written()
    where = ROUTE_LABELS[hearing.route]
    if hearing.stage:
        where = f"{where} at {STAGE_LABELS[hearing.stage]}"
    notice = f"Logged. The {'complaint' if hearing.stage else 'appeal'} goes to {where}."
    notice += f" Its outcome is due by {local_date(appeal.respond_by)}." if appeal.respond_by else ""
    if late:
        notice += (
            f" It is late: received {local_date(received)}, after the time limit of "
            f"{local_date(hearing.time_limit)}. {_sentence(ROUTE_LABELS[hearing.route])} may still "
            "accept it."
        )
    return CloseDialog(notice)


def _received(
    incident: Incident,
    chosen: appealable.Decided,
    actor: Actor,
    received: date,
    grounds: str,
    now: datetime,
    **fields: Any,
) -> Appeal:
    """An appeal as received against the chosen decision; `fields`: where it goes, or why not."""
    return Appeal(
        incident_id=incident.id,
        against=chosen.taken.kind.value,
        step=chosen.step,
        decision_id=chosen.decision.id if chosen.decision else None,
        review_id=chosen.review.id if chosen.review else None,
        previous_appeal_id=chosen.earlier.id if chosen.earlier else None,
        received_on=received,
        grounds=grounds,
        logged_by_id=actor.person_id,
        logged_at=now,
        **fields,
    )


async def _letter_and_trail(
    session: AsyncSession,
    actor: Actor,
    appeal: Appeal,
    incident: Incident,
    kind: LetterKind,
    now: datetime,
    action: str,
    detail: dict[str, Any],
) -> None:
    """The letter the customer is owed about the appeal, and the audit event naming it."""
    letter = await decisions.add_letter(
        session,
        kind,
        customer_id=incident.customer_id,
        produced_by=actor.person_id,
        now=now,
        decision_id=appeal.decision_id,
        appeal_id=appeal.id,
    )
    await audit.record(
        session,
        now=now,
        actor_id=actor.person_id,
        action=action,
        record_type="appeal",
        record_id=appeal.id,
        detail={**detail, "letter": letter.id},
    )


async def _not_heard(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    incident: Incident,
    chosen: appealable.Decided,
    why: NotHeard,
    received: date,
    grounds: str,
    now: datetime,
) -> DialogAnswer:
    """An appeal the policy gives no route: recorded as received, with a letter telling the
    customer why and where else they can go."""
    appeal = _received(
        incident,
        chosen,
        actor,
        received,
        grounds,
        now,
        route=None,
        not_heard=why.value,
        late=False,
        status=appealable.NOT_HEARD,
    )
    session.add(appeal)
    await session.flush()
    # A code, never the grounds: the trail holds no free text.
    await _letter_and_trail(
        session,
        actor,
        appeal,
        incident,
        LetterKind.APPEAL_NOT_HEARD,
        now,
        "appeal.not_heard",
        {"incident": incident.reference, "against": chosen.step, "reason": why.value},
    )
    view = await view_of(session, services, appeal, None)
    outbox.enqueue(
        session,
        outbox.Recipient(person_id=actor.person_id),
        card_message(cards.appeal_card(view), summary=f"Appeal on {incident.reference}: goes no further"),
        purpose=POSTED,
        now=now,
        record_type="appeal",
        record_id=appeal.id,
        dedupe_key=f"appeal:{appeal.id}:posted:{actor.person_id}",
    )
    await session.commit()
    services.outbox_written()
    return CloseDialog(
        f"{NOT_HEARD_REASONS[why]} It is recorded as received and going no further. A short letter "
        "telling the customer why and where else they can go is on the card in your chat with me."
    )


async def _send_to_hearing_body(
    session: AsyncSession, services: Services, appeal: Appeal, now: datetime
) -> None:
    route = AppealRoute(appeal.route)
    card_for_body = cards.appeal_card(await view_of(session, services, appeal, None))
    incident = await session.get(Incident, appeal.incident_id)
    noun = "Complaint" if route is AppealRoute.COMPLAINTS_PROCEDURE else "Appeal"
    summary = f"{noun} on {incident.reference if incident else ''} for {ROUTE_LABELS[route]}"
    message = card_message(card_for_body, summary=summary)
    channel = (
        await review_group_channel(session, services.review_group_channel)
        if route is AppealRoute.COMPLAINTS_REVIEW_GROUP
        else None
    )
    if channel:
        outbox.enqueue(
            session,
            outbox.Recipient(channel_id=channel),
            message,
            purpose=POSTED,
            now=now,
            record_type="appeal",
            record_id=appeal.id,
            dedupe_key=f"appeal:{appeal.id}:posted",
        )
        return
    hearers = await people.with_role(session, HEARERS[route])
    for person in hearers:
        outbox.enqueue(
            session,
            outbox.Recipient(person_id=person.id),
            message,
            purpose=POSTED,
            now=now,
            record_type="appeal",
            record_id=appeal.id,
            dedupe_key=f"appeal:{appeal.id}:posted:{person.id}",
        )
    if route is AppealRoute.COMPLAINTS_REVIEW_GROUP or not hearers:
        # Without its channel (or anyone to hear it) the register keepers must know.
        notice = card(
            [
                heading("An appeal needs a home", size="Medium"),
                text(
                    f"An appeal for {ROUTE_LABELS[route]} was logged, but "
                    + (
                        "no Complaints Review Group channel is set: a register keeper should run "
                        "**set review group channel** in it. Its members were sent the appeal directly."
                        if route is AppealRoute.COMPLAINTS_REVIEW_GROUP
                        else "nobody holds that role in the roles file."
                    )
                ),
            ]
        )
        await tell_keepers(
            session,
            card_message(notice, summary="An appeal needs a home"),
            purpose="appeal.unrouted",
            now=now,
            record_type="appeal",
            record_id=appeal.id,
            dedupe=f"appeal:{appeal.id}:unrouted",
        )


# --- the hearing --------------------------------------------------------------------------------


async def may_hear(session: AsyncSession, actor: Actor, appeal: Appeal) -> bool:
    """The hearing body, never the reporter nor anyone who took part in a step appealed (the rule
    in dialogs/permissions.py, on the case's whole history)."""
    facts = await case_facts.for_appeal(session, appeal)
    return bool(permissions.judge(cards.OUTCOME, actor, facts))


AGAINST = {
    Appealable.IMMEDIATE_ACTION.value: "an employee's immediate action",
    Appealable.DECISION.value: "a manager's decision",
    Appealable.VARIATION.value: "the variation of a restriction at review",
    Appealable.CONTINUATION.value: "the continuation of a restriction at review",
    Appealable.REINSTATEMENT.value: "the reinstatement of a restriction",
    Appealable.COMPLAINT_RESPONSE.value: "the Stage 1 response to a complaint",
}


def _acts(incident: Incident, *, done: bool = False) -> str:
    """What the employee did at the time: "ending the contact", or as done, "ended the contact"."""
    acts = [
        words[done]
        for on, words in (
            (incident.ended_contact, ("ending the contact", "ended the contact")),
            (
                incident.left_premises,
                ("asking them to leave the premises", "asked them to leave the premises"),
            ),
        )
        if on
    ]
    return " and ".join(acts)


REVIEW_WORDS = {
    ReviewOutcome.REINSTATE.value: "Reinstated",
    ReviewOutcome.VARY.value: "Varied",
    ReviewOutcome.CONTINUE.value: "Continued",
}


def _against(appeal: Appeal, incident: Incident) -> str:
    if appeal.against == Appealable.IMMEDIATE_ACTION.value:
        return f"an employee's immediate action ({_acts(incident)})"
    if appeal.against == Appealable.APPEAL_OUTCOME.value:
        # Heard, it goes to the Chief Executive; not heard, it was the Chief Executive's.
        return (
            "the Chief Executive's decision on appeal"
            if appeal.not_heard
            else "a decision of the Complaints Review Group"
        )
    if appeal.against == Appealable.COMPLAINT_RESPONSE.value and appeal.not_heard:
        return "the Stage 2 response to a complaint"
    return AGAINST.get(appeal.against, appeal.against)


def outcome_line(appeal: Appeal) -> str:
    """The outcome in the customer's words: "Partly upheld: the decision is varied"."""
    if not appeal.outcome or not appeal.route:
        return ""
    return outcome_words(AppealOutcome(appeal.outcome), AppealRoute(appeal.route))


async def view_of(
    session: AsyncSession, services: Services, appeal: Appeal, actor: Actor | None
) -> cards.AppealView:
    zone = services.zone
    incident = await session.get(Incident, appeal.incident_id)
    assert incident is not None
    customer = await session.get(Customer, incident.customer_id)
    decision = await session.get(Decision, appeal.decision_id) if appeal.decision_id else None
    history = await decisions.history_of(session, incident.customer_id, excluding_incident=incident.id)
    letter = await session.scalar(select(Letter).where(Letter.appeal_id == appeal.id))
    route = AppealRoute(appeal.route) if appeal.route else None
    complaint = (
        route is AppealRoute.COMPLAINTS_PROCEDURE or appeal.against == Appealable.IMMEDIATE_ACTION.value
    )
    deciding: list[tuple[str, str | None]] = []
    if appeal.review_id:
        review = await session.get(Review, appeal.review_id)
        if review is not None:
            deciding = [
                ("Review", REVIEW_WORDS.get(review.outcome, review.outcome)),
                (
                    "By",
                    f"{await decisions.name_of(session, review.reviewer_id)}, "
                    f"{local_time(review.done_at, zone)}",
                ),
                ("Reasons", review.reasons),
            ]
    elif decision is not None:
        deciding = [
            ("Decision", DECISION_LABELS[DecisionKind(decision.kind)]),
            (
                "By",
                f"{await decisions.name_of(session, decision.decided_by_id)}, "
                f"{local_time(decision.decided_at, zone)}",
            ),
            ("Reasons", decision.reasons),
        ]
    if appeal.against == Appealable.IMMEDIATE_ACTION.value or (complaint and not deciding):
        deciding = [
            ("Action", _sentence(_acts(incident))),
            ("When", local_time(incident.occurred_at, zone)),
        ]
    if appeal.previous_appeal_id:
        previous = await session.get(Appeal, appeal.previous_appeal_id)
        if previous is not None:
            label = f"Stage {previous.stage} outcome" if previous.stage else "Review group outcome"
            deciding.append((label, f"{outcome_line(previous)}. {previous.outcome_reasons or ''}"))
    outcome = None
    if appeal.status == appealable.DECIDED and appeal.outcome:
        by = await decisions.name_of(session, appeal.outcome_by_id)
        when = local_time(appeal.outcome_at, zone) if appeal.outcome_at else ""
        outcome = f"{outcome_line(appeal)}. Recorded by {by}, {when}: {appeal.outcome_reasons}"
    deadlines: list[tuple[str, str | None]] = []
    if appeal.time_limit_on:
        deadlines.append(("Time limit", local_date(appeal.time_limit_on)))
    if appeal.respond_by and appeal.status == appealable.OPEN:
        deadlines.append(("Outcome due", local_date(appeal.respond_by)))
    if appeal.stage:
        deadlines.append(("Stage", STAGE_LABELS[appeal.stage]))
    status = {
        appealable.OPEN: "Open",
        appealable.DECIDED: "Decided",
        appealable.NOT_HEARD: "Goes no further",
    }.get(appeal.status, appeal.status)
    return cards.AppealView(
        appeal_id=appeal.id,
        reference=incident.reference,
        route=ROUTE_LABELS[route] if route else "",
        against=_against(appeal, incident),
        customer=customer_label(customer),
        received=local_date(appeal.received_on),
        late_warning=(
            f"Late: received after the time limit. {_sentence(ROUTE_LABELS[route])} may still accept it."
            if appeal.late and route
            else None
        ),
        logged_by=await decisions.name_of(session, appeal.logged_by_id),
        decision=deciding,
        restrictions=[
            f"{RESTRICTION_LABELS[RestrictionType(r.type)]}: {r.details} "
            f"({r.status}, {restriction_period(r)})"
            for r in await appealable.appealed_restrictions(session, appeal)
        ],
        grounds=appeal.grounds,
        history=[
            f"{len(history.incidents)} other incident(s)",
            f"{sum(r.status == RestrictionStatus.ACTIVE.value for r in history.restrictions)} "
            f"active restriction(s), {len(history.restrictions)} in all",
            f"{len(history.restorative_steps)} restorative step(s) recorded",
            f"{len(history.appeals)} appeal(s)",
        ],
        status=status,
        outcome=outcome,
        letter_id=letter.id if letter else None,
        letter_pending=bool(letter and not (letter.sent_on or letter.not_appropriate_reason)),
        can_hear=route is not None and (True if actor is None else await may_hear(session, actor, appeal)),
        complaint=complaint,
        deadlines=deadlines,
        not_heard=NOT_HEARD_REASONS[NotHeard(appeal.not_heard)] if appeal.not_heard else None,
        incident_id=incident.id,
        workspace_url=services.workspace_link(f"incident/{incident.id}") if services.workspace_link else None,
        escalate=bool(
            appeal.stage == 1
            and appeal.status == appealable.DECIDED
            and appeal.outcome != AppealOutcome.UPHELD.value
            and not await session.scalar(select(Appeal.id).where(Appeal.step == f"appeal:{appeal.id}"))
        ),
    )


def _slot_defaults(restrictions: list[Restriction], services: Services) -> list[tuple[int, dict[str, str]]]:
    today = services.today()
    return [
        (
            n,
            {
                "type": r.type,
                "details": r.details,
                "scope": r.scope,
                "frontline_instructions": r.frontline_instructions,
                "starts_on": today.isoformat(),
                "review_due_on": (r.review_due_on or services.reviews.default_review(today)).isoformat(),
            },
        )
        for n, r in enumerate(restrictions, start=1)
    ]


async def _loggable(
    session: AsyncSession, services: Services, actor: Actor, verb: str, data: Mapping[str, Any]
) -> Incident | None:
    """The incident named, if the actor may log an appeal on it; else the refusal is recorded."""
    incident_id = record_id(data.get("incident"))
    facts = await case_facts.for_incident(session, incident_id)
    if not await permissions.check(session, services, actor, verb, facts, incident_id):
        return None
    return await session.get(Incident, incident_id)


async def _readable(
    session: AsyncSession, services: Services, actor: Actor, verb: str, data: Mapping[str, Any]
) -> tuple[Appeal, Facts] | None:
    """The appeal named and the facts its rules are judged on, if the actor may see it; else the
    refusal is recorded."""
    appeal_id = record_id(data.get("appeal"))
    appeal = await session.get(Appeal, appeal_id) if appeal_id else None
    facts = await case_facts.for_appeal(session, appeal)
    # Seeing the card is the route's body and the keepers (the refresh's rule); hearing and the
    # letter are then judged by the verb's own rule.
    if appeal is None or not permissions.judge(cards.REFRESH, actor, facts):
        await refusals.record(session, services, actor, verb, record_type="appeal", record_id=appeal_id)
        return None
    return appeal, facts


async def on_action(services: Services, actor: Actor, verb: str, data: Mapping[str, Any]) -> Card:
    """An `Action.Execute` on an appeal's card: refresh and the outcome letter (forms open in dialogs)."""
    async with services.sessions() as session:
        if verb in (cards.LOG_FORM, cards.LOG):
            # From a card sent before logging opened in a dialog.
            incident = await _loggable(session, services, actor, verb, data)
            return (
                no_access_card() if incident is None else cards.log_launcher(incident.id, incident.reference)
            )
        readable = await _readable(session, services, actor, verb, data)
        if readable is None:
            return no_access_card(who=HEARERS_ONLY)
        appeal, facts = readable
        view = await view_of(session, services, appeal, actor)
        if verb == cards.REFRESH:
            await audit.record(
                session,
                now=services.clock(),
                actor_id=actor.person_id,
                action="appeal.viewed",
                record_type="appeal",
                record_id=appeal.id,
            )
            await session.commit()
            return cards.appeal_card(view)
        if verb in cards.LETTER_VERBS:
            if not await permissions.check(session, services, actor, verb, facts, appeal.id):
                return no_access_card(who=HEARERS_ONLY)
            return await _letter(session, services, actor, appeal, view, verb, data)
        return cards.appeal_card(view, notice=OUT_OF_DATE)


async def on_dialog(services: Services, actor: Actor, verb: str, data: Mapping[str, Any]) -> DialogAnswer:
    """Logging an appeal, and recording its outcome, in a dialog opened from a card."""
    async with services.sessions() as session:
        if verb in (cards.LOG_FORM, cards.LOG):
            incident = await _loggable(session, services, actor, verb, data)
            if incident is None:
                return CloseDialog(no_access_text())
            if verb == cards.LOG_FORM:
                # From a Stage 1 response's card, the escalation comes chosen.
                chosen = data.get("against")
                return await _form(
                    session, services, incident, {"against": chosen} if isinstance(chosen, str) else {}, {}
                )
            return await _log(session, services, actor, incident, data)
        if verb not in (cards.OUTCOME_FORM, cards.OUTCOME):
            return CloseDialog("That action is not one I know.")
        readable = await _readable(session, services, actor, verb, data)
        if readable is None:
            return CloseDialog(no_access_text(who=HEARERS_ONLY))
        appeal, facts = readable
        if not await permissions.check(session, services, actor, verb, facts, appeal.id):
            return CloseDialog(
                "You took part in the decision or the report, or are not of the body that "
                "hears this appeal, so you cannot record its outcome. Nothing was changed."
            )
        if appeal.status != appealable.OPEN or appeal.route is None:
            return CloseDialog(OUTCOME_RECORDED)
        outcome = next((o for o in AppealOutcome if o.value == data.get("outcome")), None)
        if outcome is None:
            return CloseDialog("That is not an appeal outcome.")
        complaint = appeal.route == AppealRoute.COMPLAINTS_PROCEDURE.value
        in_force = [
            r
            for r in await appealable.appealed_restrictions(session, appeal)
            if r.status == RestrictionStatus.ACTIVE.value
        ]
        if outcome is AppealOutcome.PARTLY_UPHELD and not complaint and not in_force:
            return CloseDialog(
                "There are no restrictions in force to vary: the appeal is upheld or not upheld. "
                "Nothing was changed."
            )
        view = await view_of(session, services, appeal, actor)
        values = {k: v for k, v in data.items() if isinstance(v, str)}
        slots = [] if complaint else _slot_defaults(in_force, services)
        if verb == cards.OUTCOME_FORM:
            return _outcome_step(view, outcome, values, {}, slots)
        return await _record_outcome(
            session, services, actor, appeal, outcome, values, in_force if not complaint else [], slots, view
        )


def _outcome_step(
    view: cards.AppealView,
    outcome: AppealOutcome,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    slots: list[tuple[int, dict[str, str]]],
) -> ShowStep:
    noun = "Complaint" if view.complaint else "Appeal"
    return ShowStep(
        cards.outcome_form(view, outcome.value, values, errors, slots), f"{noun} on {view.reference}"
    )


def _changes(old: Restriction, new: RestrictionDraft) -> bool:
    """Whether the panel changed what the restriction does (its start date alone is not a change)."""
    return (
        old.type != new.type.value
        or old.details.strip() != new.details.strip()
        or old.scope != new.scope.value
        or old.frontline_instructions.strip() != new.frontline_instructions.strip()
        or old.ends_on != new.ends_on
        or old.review_due_on != new.review_due_on
    )


async def _record_outcome(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    appeal: Appeal,
    outcome: AppealOutcome,
    values: dict[str, str],
    in_force: list[Restriction],
    slots: list[tuple[int, dict[str, str]]],
    view: cards.AppealView,
) -> DialogAnswer:
    reasons = values.get("reasons", "").strip()
    errors: dict[str, str] = {} if reasons else {"reasons": "Give the reasons for the outcome"}
    effect = EFFECTS[outcome] if in_force else None  # a complaint, or nothing in force: no change
    varied: list[tuple[Restriction, RestrictionDraft]] = []
    if effect is Effect.VARIED:
        merged = {**{f"restriction_{n}_{k}": v for n, d in slots for k, v in d.items()}, **values}
        draft, parse_errors = decision_form.parse(
            DecisionKind.ACTIVE_MANAGEMENT, {**merged, "reasons": reasons}, slots=len(slots)
        )
        errors.update(parse_errors)
        if draft is not None and len(draft.restrictions) != len(slots):
            # Each appealed restriction is set out as it will be; lifting them all is "upheld".
            missing = len(draft.restrictions) + 1
            errors[f"restriction_{missing}_type"] = "Set out every appealed restriction as it will be"
            draft = None
        if draft is not None:
            found = problems(
                draft,
                category=Category.ONE,
                restorative_recorded=True,
                today=services.today(),
                reviews=services.reviews,
            )
            errors.update({k: v for k, v in found.items() if k.startswith("restriction_")})
            varied = [
                (old, new)
                for old, new in zip(in_force, draft.restrictions, strict=True)
                if _changes(old, new)
            ]
            if not varied and not errors:
                errors["restrictions"] = (
                    "Partly upheld varies the decision: change at least one restriction, or record the "
                    "appeal as not upheld"
                )
    if errors:
        return _outcome_step(view, outcome, values, errors, slots)
    now = services.clock()
    claimed = await session.execute(
        update(Appeal)
        .where(Appeal.id == appeal.id, Appeal.status == appealable.OPEN)
        .values(
            status=appealable.DECIDED,
            outcome=outcome.value,
            outcome_reasons=reasons[:4000],
            outcome_explanation=values.get("customer_explanation", "").strip()[:4000] or None,
            outcome_by_id=actor.person_id,
            outcome_at=now,
            open_key=None,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return CloseDialog(OUTCOME_RECORDED)
    ending = {
        Effect.OVERTURNED: (in_force, RestrictionStatus.LIFTED),
        Effect.VARIED: ([o for o, _ in varied], RestrictionStatus.VARIED),
    }
    ended, status = (
        ending.get(effect, ([], RestrictionStatus.ACTIVE)) if effect else ([], RestrictionStatus.ACTIVE)
    )
    changed: list[int] = []
    for r in ended:
        await session.execute(
            update(Restriction)
            .where(Restriction.id == r.id, Restriction.status == RestrictionStatus.ACTIVE.value)
            .values(
                status=status.value,
                ended_at=now,
                ended_reason=f"{'Varied' if effect is Effect.VARIED else 'Lifted'}: the appeal was "
                f"{OUTCOME_LABELS[outcome].lower()}",
                next_reminder_on=None,
            )
            .execution_options(synchronize_session=False)
        )
        changed.append(r.id)
        await session.refresh(r)  # the cards built below read it from this session
    for old, new in varied:
        decisions.replace_restriction(
            session, old, new, reviewer_id=old.reviewer_id or actor.person_id, holidays=services.holidays
        )
    incident = await session.get(Incident, appeal.incident_id)
    assert incident is not None
    await _letter_and_trail(
        session,
        actor,
        appeal,
        incident,
        LetterKind.APPEAL_OUTCOME,
        now,
        "appeal.outcome",
        {"outcome": outcome.value, "restrictions_changed": changed},
    )
    await session.refresh(appeal)
    fresh = await view_of(session, services, appeal, None)
    await _tell_outcome(session, services, appeal, incident, fresh, now)
    if changed:
        # The managers' card, and every card about the restrictions' reviews, show the
        # restrictions as they stand after the appeal (a lifted one's reminders lose their buttons).
        await decide.refresh_sent_cards(session, services, incident.id, now, version=f"appeal:{appeal.id}")
        for r in ended:
            await reviews.update_cards(session, services, r.id, r, now, dedupe=f"appeal:{appeal.id}:{r.id}")
    await session.commit()
    services.outbox_written()
    # The dialog closes; every copy of the appeal's card shows the outcome, from the outbox.
    return CloseDialog(f"{fresh.outcome or ''} The card shows it, with the outcome letter.")


async def _tell_outcome(
    session: AsyncSession,
    services: Services,
    appeal: Appeal,
    incident: Incident,
    fresh: cards.AppealView,
    now: datetime,
) -> None:
    """Who hears the outcome: every copy of the appeal's card; the person who logged it; whoever
    took the decision appealed (the outcome and its reasons); the reporter (the outcome alone);
    and, when the Chief Executive decides on the group's decision, the group's thread."""
    done_card = cards.appeal_card(fresh)
    noun = "Complaint" if fresh.complaint else "Appeal"
    line = outcome_line(appeal)
    for posted in await outbox.for_record(session, "appeal", appeal.id, purpose=POSTED):
        if posted.status == outbox.FAILED:
            continue
        recipient = outbox.Recipient(person_id=posted.person_id, channel_id=posted.channel_id)
        outbox.enqueue(
            session,
            recipient,
            card_message(done_card, summary=f"{noun} on {incident.reference}: {line.lower()}"),
            purpose=CARD_UPDATED,
            now=now,
            record_type="appeal",
            record_id=appeal.id,
            dedupe_key=f"appeal:{appeal.id}:updated:{posted.id}",
            updates_id=posted.id,
        )
    full = card(
        [
            heading(f"{noun} on {incident.reference}: {line}", size="Medium"),
            text(f"Against {fresh.against}."),
            text(fresh.outcome or ""),
        ]
    )
    brief = card(
        [
            heading(f"{noun} on {incident.reference}: {line}", size="Medium"),
            text(
                f"The customer's {noun.lower()} against {fresh.against} on the incident you "
                "reported has been decided."
            ),
        ]
    )
    taker = await _taker(session, appeal, incident)
    told: dict[int, dict[str, Any]] = {appeal.logged_by_id: full}
    if taker is not None and taker != incident.reporter_id:
        told.setdefault(taker, full)
    told.setdefault(incident.reporter_id, brief)
    for person_id, shown in told.items():
        outbox.enqueue(
            session,
            outbox.Recipient(person_id=person_id),
            card_message(shown, summary=f"{noun} outcome: {incident.reference}"),
            purpose="appeal.outcome",
            now=now,
            record_type="appeal",
            record_id=appeal.id,
            dedupe_key=f"appeal:{appeal.id}:outcome:{person_id}",
        )
    if appeal.route == AppealRoute.CHIEF_EXECUTIVE.value and appeal.previous_appeal_id:
        # The group hears what became of its decision, where it heard the appeal.
        for posted in await outbox.for_record(session, "appeal", appeal.previous_appeal_id, purpose=POSTED):
            if posted.status == outbox.FAILED:
                continue
            outbox.enqueue(
                session,
                outbox.Recipient(person_id=posted.person_id, channel_id=posted.channel_id),
                card_message(full, summary=f"Chief Executive's decision: {incident.reference}"),
                purpose="appeal.outcome",
                now=now,
                record_type="appeal",
                record_id=appeal.id,
                dedupe_key=f"appeal:{appeal.id}:group:{posted.id}",
                reply_to_id=posted.id if posted.channel_id else None,
            )


async def _taker(session: AsyncSession, appeal: Appeal, incident: Incident) -> int | None:
    """Who took the decision appealed: the manager, the reviewer, the employee; for an appeal's
    outcome, its hearing body is told in its own thread instead."""
    if appeal.review_id:
        return await session.scalar(select(Review.reviewer_id).where(Review.id == appeal.review_id))
    if appeal.against == Appealable.IMMEDIATE_ACTION.value:
        return incident.reporter_id
    if appeal.against == Appealable.DECISION.value and appeal.decision_id:
        return await session.scalar(select(Decision.decided_by_id).where(Decision.id == appeal.decision_id))
    if appeal.against == Appealable.COMPLAINT_RESPONSE.value and appeal.previous_appeal_id:
        return await session.scalar(
            select(Appeal.outcome_by_id).where(Appeal.id == appeal.previous_appeal_id)
        )
    return None


async def _letter(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    appeal: Appeal,
    view: cards.AppealView,
    verb: str,
    data: Mapping[str, Any],
) -> Card:
    letter = await session.scalar(select(Letter).where(Letter.appeal_id == appeal.id))
    if letter is None:
        return cards.appeal_card(view, notice="There is no outcome letter yet.")
    if verb == cards.LETTER_LINK:
        large = data.get("large") is True
        issued = await letter_links.issue_link(session, services, actor.person_id, letter.id, large=large)
        if issued is None:
            return cards.appeal_card(view, notice=NO_LINKS)
        # The answer to a download carries one link to open: the letter's.
        return with_download(
            cards.appeal_card(replace(view, workspace_url=None)), issued.url, issued.large, issued.note
        )
    if letter.sent_on is not None or letter.not_appropriate_reason is not None:
        return cards.appeal_card(
            view, notice="The letter's outcome is already recorded. Nothing was changed."
        )
    title = f"Outcome letter for {view.reference}"
    record_sent = execute("Record", cards.LETTER_SENT, {"appeal": appeal.id}, style="positive")
    record_why = execute("Record", cards.LETTER_NOT_APPROPRIATE, {"appeal": appeal.id}, style="positive")
    cancel = execute("Cancel", cards.REFRESH, {"appeal": appeal.id})
    today = services.today().isoformat()
    if verb == cards.LETTER_SENT_FORM:
        return letter_sent_card(title, today, {}, record_sent, cancel)
    if verb == cards.LETTER_NOT_APPROPRIATE_FORM:
        return letter_not_appropriate_card(title, {}, record_why, cancel)
    sent = verb == cards.LETTER_SENT
    errors = await letter_links.record_fate(session, services, actor.person_id, letter, data, sent=sent)
    if errors:
        return (
            letter_sent_card(title, today, errors, record_sent, cancel)
            if sent
            else letter_not_appropriate_card(title, errors, record_why, cancel)
        )
    await session.commit()
    await session.refresh(letter)
    return cards.appeal_card(await view_of(session, services, appeal, actor))


# --- reminders ----------------------------------------------------------------------------------


async def sweep_outcome_reminders(services: Services) -> int:
    """An appeal with no outcome within the target is reminded, in its thread or 1:1 chats."""
    if not services.working_hours():
        return 0
    today = services.today()
    now = services.clock()
    queued = 0
    async with services.sessions() as session:
        waiting = (
            await session.scalars(
                select(Appeal)
                .where(Appeal.status == "open", Appeal.reminded_at.is_(None))
                .order_by(Appeal.id)
            )
        ).all()
        for appeal in waiting:
            due = outcome_due(
                appeal.respond_by, appeal.logged_at.astimezone(services.zone).date(), clock_of(services)
            )
            if today < due:
                continue
            claimed = await session.execute(
                update(Appeal)
                .where(Appeal.id == appeal.id, Appeal.reminded_at.is_(None))
                .values(reminded_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                continue
            incident = await session.get(Incident, appeal.incident_id)
            reminder = card(
                [
                    heading("No outcome recorded yet", size="Medium", color="Attention"),
                    text(
                        f"The {'complaint' if appeal.stage else 'appeal'} on "
                        f"{incident.reference if incident else ''} was logged on "
                        f"{local_date(appeal.logged_at.astimezone(services.zone).date())}; its outcome was "
                        f"due by {local_date(due)}. Please record its outcome."
                    ),
                ]
            )
            for posted in await outbox.for_record(session, "appeal", appeal.id, purpose=POSTED):
                if posted.status == outbox.FAILED:
                    continue  # withheld from the channel, say: no thread to remind; its copies are
                recipient = outbox.Recipient(person_id=posted.person_id, channel_id=posted.channel_id)
                outbox.enqueue(
                    session,
                    recipient,
                    card_message(reminder, summary="Appeal outcome overdue"),
                    purpose="appeal.reminder",
                    now=now,
                    record_type="appeal",
                    record_id=appeal.id,
                    dedupe_key=f"appeal:{appeal.id}:reminder:{posted.id}",
                    reply_to_id=posted.id if posted.channel_id else None,
                )
                queued += 1
        await session.commit()
    if queued:
        services.outbox_written()
    return queued
