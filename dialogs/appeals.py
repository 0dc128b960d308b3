"""Appeals, routed by who made the decision appealed against.

An employee's immediate action goes to the complaints handling procedure; a manager's decision
to the Complaints Review Group, in its channel; a decision of the Complaints Review Group to the
Chief Executive. Action taken by elected members is not appealable under the policy, and there is
no internal appeal beyond the Chief Executive: the customer may go to the SPSO.
"""

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

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
from dialogs import decision_form, letter_links, permissions, refusals, review_channel
from dialogs.commands import command
from dialogs.decide import NO_LINKS, OUT_OF_DATE, customer_label, restriction_period
from dialogs.ids import record_id
from dialogs.notify import card_message, tell_keepers
from dialogs.turn import Actor, CloseDialog, DialogAnswer, Reply, Services, ShowStep
from policy.appeals import ROUTE_LABELS, NotAppealable, route_for
from policy.categories import Category
from policy.deciding import problems
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
)
from policy.permissions import Facts
from policy.roles import Role, may_log_any_appeal, may_log_appeal
from policy.working_days import add_working_days, working_days_between
from storage import audit, case_facts, decisions, incidents, outbox, people
from storage.models import (
    Appeal,
    AppealedRestriction,
    CouncilSetting,
    Customer,
    Decision,
    Incident,
    Letter,
    Restriction,
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
ROUTE_ROLES = {
    AppealRoute.COMPLAINTS_PROCEDURE: Role.COMPLAINTS_TEAM,
    AppealRoute.COMPLAINTS_REVIEW_GROUP: Role.COMPLAINTS_REVIEW_GROUP,
    AppealRoute.CHIEF_EXECUTIVE: Role.CHIEF_EXECUTIVE,
}
BODY_OF_ROUTE = {
    AppealRoute.COMPLAINTS_PROCEDURE: DecidingBody.CHIEF_EXECUTIVE,  # then only the SPSO
    AppealRoute.COMPLAINTS_REVIEW_GROUP: DecidingBody.COMPLAINTS_REVIEW_GROUP,
    AppealRoute.CHIEF_EXECUTIVE: DecidingBody.CHIEF_EXECUTIVE,
}


ALREADY_OPEN = "There is already an open appeal on this. Nothing was stored."
OUTCOME_RECORDED = "This appeal's outcome is already recorded. Nothing was changed."


def open_key(incident_id: int, against: str, decision_id: int | None, previous_id: int | None) -> str:
    return f"{incident_id}:{against}:{decision_id or ''}:{previous_id or ''}"


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


async def _options(session: AsyncSession, incident: Incident, zone: ZoneInfo) -> list[tuple[str, str]]:
    options: list[tuple[str, str]] = []
    if incident.ended_contact:
        options.append(("immediate_action", "The employee's immediate action (ending the contact)"))
    decision = await decisions.first_for(session, incident.id)
    already_heard = decision is not None and await session.scalar(
        select(Appeal.id).where(
            Appeal.decision_id == decision.id, Appeal.against == "decision", Appeal.status == "decided"
        )
    )
    if decision is not None and not already_heard:
        options.append(
            (
                "decision",
                f"The manager's decision: {DECISION_LABELS[DecisionKind(decision.kind)]} "
                f"({local_date(decision.decided_at.astimezone(zone).date())})",
            )
        )
    heard = (
        await session.scalars(
            select(Appeal)
            .where(Appeal.incident_id == incident.id, Appeal.status == "decided")
            .order_by(Appeal.id)
        )
    ).all()
    for appeal in heard:
        label = {
            AppealRoute.COMPLAINTS_REVIEW_GROUP.value: "The Complaints Review Group's decision",
            AppealRoute.CHIEF_EXECUTIVE.value: "The Chief Executive's decision",
            AppealRoute.COMPLAINTS_PROCEDURE.value: "The complaints procedure's outcome",
        }[appeal.route]
        options.append(
            (
                f"appeal:{appeal.id}",
                f"{label} on appeal ({appeal.outcome}, "
                f"{local_date(appeal.outcome_at.astimezone(zone).date())})",
            )
        )
    return options


async def _restriction_choices(session: AsyncSession, decision_id: int | None) -> list[tuple[str, str]]:
    if decision_id is None:
        return []
    rows = (
        await session.scalars(
            select(Restriction)
            .where(
                Restriction.decision_id == decision_id, Restriction.status == RestrictionStatus.ACTIVE.value
            )
            .order_by(Restriction.id)
        )
    ).all()
    return [(str(r.id), f"{RESTRICTION_LABELS[RestrictionType(r.type)]}: {r.details}") for r in rows]


async def _form(
    session: AsyncSession,
    services: Services,
    incident: Incident,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    notice: str | None = None,
) -> ShowStep:
    decision = await decisions.first_for(session, incident.id)
    form = cards.log_form(
        incident.id,
        incident.reference,
        await _options(session, incident, services.zone),
        await _restriction_choices(session, decision.id if decision else None),
        values,
        errors,
        services.today().isoformat(),
        notice,
    )
    return ShowStep(form, f"Log an appeal on {incident.reference}")


@command(
    rf"appeal\s+({REFERENCE})",
    "appeal INC-2026-00042",
    "log an appeal the customer made",
    phrases=("log an appeal", "customer appealed", "record an appeal"),
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
        options = await _options(session, incident, services.zone)
        if not options:
            return [
                Reply(
                    text=f"There is nothing on {reference} to appeal yet: no decision has been taken "
                    "and no contact was ended."
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
    against = values.get("against", "")
    decision: Decision | None = None
    previous: Appeal | None = None
    base: date | None = None
    route: AppealRoute | None = None
    if against == "immediate_action" and incident.ended_contact:
        if (await people.roles_for(session, incident.reporter_id)).has(Role.ELECTED_MEMBER):
            return await _form(
                session,
                services,
                incident,
                values,
                {},
                "The appeal process does not apply to action taken by elected members, so this "
                "cannot be logged as an appeal. Nothing was stored.",
            )
        route, base = AppealRoute.COMPLAINTS_PROCEDURE, incident.occurred_at.astimezone(services.zone).date()
    elif against == "decision":
        decision = await decisions.first_for(session, incident.id)
        heard = await session.scalar(
            select(Appeal).where(
                Appeal.decision_id == (decision.id if decision else -1),
                Appeal.against == "decision",
                Appeal.status == "decided",
            )
        )
        if decision is None:
            errors["against"] = f"There is no decision on {incident.reference} to appeal yet"
        elif heard is not None:
            # Heard once: what can be appealed now is that body's decision, which goes higher.
            errors["against"] = "This decision's appeal has been decided: appeal against that outcome instead"
        else:
            route = route_for(DecidingBody(decision.deciding_body))
            letter = await decisions.letter_for(session, decision.id)
            base = (
                letter.sent_on
                if letter and letter.sent_on
                else decision.decided_at.astimezone(services.zone).date()
            )
    elif against.startswith("appeal:"):
        previous_id = record_id(against.removeprefix("appeal:"))
        previous = await session.get(Appeal, previous_id) if previous_id else None
        if previous is None or previous.incident_id != incident.id or previous.status != "decided":
            errors["against"] = "Choose what is appealed from the list"
        else:
            try:
                route = route_for(BODY_OF_ROUTE[AppealRoute(previous.route)])
            except NotAppealable as refusal:
                return await _form(session, services, incident, values, {}, f"{refusal} Nothing was stored.")
            decision = await session.get(Decision, previous.decision_id) if previous.decision_id else None
            base = previous.outcome_at.astimezone(services.zone).date() if previous.outcome_at else None
    else:
        errors["against"] = "Choose what is appealed from the list"
    try:
        received = date.fromisoformat(values.get("received_on", ""))
    except ValueError:
        received = None
        errors["received_on"] = "Enter the date the appeal was received, like 2026-11-23"
    if received is not None and received > services.today():
        errors["received_on"] = "The date received cannot be in the future"
    elif received is not None and base is not None and received < base:
        errors["received_on"] = "The appeal cannot have been received before the decision"
    grounds = values.get("grounds", "").strip()
    if not grounds:
        errors["grounds"] = "Record the grounds of the appeal, in the customer's words"
    elif len(grounds) > 4000:
        errors["grounds"] = "Keep this to 4,000 characters"
    offered = {int(v) for v, _ in await _restriction_choices(session, decision.id if decision else None)}
    chosen = {record_id(v) for v in values.get("restrictions", "").split(",") if v}
    if not chosen <= offered:
        errors["restrictions"] = "Choose restrictions of the decision appealed"
    if errors or route is None or received is None:
        return await _form(session, services, incident, values, errors)
    kind = against.split(":")[0]
    open_already = await session.scalar(
        select(Appeal).where(
            Appeal.incident_id == incident.id,
            Appeal.status == "open",
            Appeal.against == kind,
            Appeal.decision_id == decision.id if decision else Appeal.decision_id.is_(None),
            Appeal.previous_appeal_id == previous.id if previous else Appeal.previous_appeal_id.is_(None),
        )
    )
    if open_already is not None:
        return await _form(
            session,
            services,
            incident,
            values,
            {},
            f"There is already an open appeal on this, logged {local_date(open_already.received_on)}. "
            "Nothing was stored.",
        )
    deadline = (
        add_working_days(base, services.letters.appeal_working_days, services.holidays) if base else None
    )
    late = bool(deadline and received > deadline)
    now = services.clock()
    appeal = Appeal(
        incident_id=incident.id,
        against=kind,
        decision_id=decision.id if decision else None,
        previous_appeal_id=previous.id if previous else None,
        route=route.value,
        received_on=received,
        grounds=grounds,
        late=late,
        logged_by_id=actor.person_id,
        logged_at=now,
        status="open",
        open_key=open_key(
            incident.id, kind, decision.id if decision else None, previous.id if previous else None
        ),
    )
    try:
        async with session.begin_nested():
            session.add(appeal)
            await session.flush()
    except IntegrityError:
        # Logged at the same moment by someone else: theirs stands.
        return await _form(session, services, incident, values, {}, ALREADY_OPEN)
    for restriction_id in sorted(chosen or offered):
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
            "route": route.value,
            "late": late,
            "restrictions": sorted(chosen or offered),
        },
    )
    await session.flush()
    await _send_to_hearing_body(session, services, appeal, now)
    await session.commit()
    services.outbox_written()
    where = ROUTE_LABELS[route]
    notice = f"Logged. The appeal goes to {where}."
    if late:
        notice += (
            f" It is late: received {local_date(received)}, after the deadline of "
            f"{local_date(deadline) if deadline else ''} ({services.letters.appeal_working_days} "
            "working days). The deciding body may still accept it."
        )
    return CloseDialog(notice)


async def _send_to_hearing_body(
    session: AsyncSession, services: Services, appeal: Appeal, now: datetime
) -> None:
    route = AppealRoute(appeal.route)
    card_for_body = cards.appeal_card(await view_of(session, services, appeal, None))
    summary = (
        f"Appeal on {(await session.get(Incident, appeal.incident_id)).reference} for {ROUTE_LABELS[route]}"
    )
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
    hearers = await people.with_role(session, ROUTE_ROLES[route])
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


async def appealed(session: AsyncSession, appeal: Appeal) -> list[Restriction]:
    return list(
        (
            await session.scalars(
                select(Restriction)
                .join(AppealedRestriction, AppealedRestriction.restriction_id == Restriction.id)
                .where(AppealedRestriction.appeal_id == appeal.id)
                .order_by(Restriction.id)
            )
        ).all()
    )


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
    against = {
        "immediate_action": "an employee's immediate action (ending the contact)",
        "decision": "a manager's decision",
        "appeal": "a decision of the Complaints Review Group",
    }.get(appeal.against, appeal.against)
    deciding: list[tuple[str, str | None]] = []
    if decision is not None:
        deciding = [
            ("Decision", DECISION_LABELS[DecisionKind(decision.kind)]),
            (
                "By",
                f"{await decisions.name_of(session, decision.decided_by_id)}, "
                f"{local_time(decision.decided_at, zone)}",
            ),
            ("Reasons", decision.reasons),
        ]
    else:
        deciding = [
            ("Action", "Contact ended by the member of staff"),
            ("When", local_time(incident.occurred_at, zone)),
        ]
    if appeal.previous_appeal_id:
        previous = await session.get(Appeal, appeal.previous_appeal_id)
        if previous is not None:
            deciding.append(("Review group outcome", f"{previous.outcome}: {previous.outcome_reasons}"))
    outcome = None
    if appeal.status == "decided" and appeal.outcome:
        by = await decisions.name_of(session, appeal.outcome_by_id)
        when = local_time(appeal.outcome_at, zone) if appeal.outcome_at else ""
        outcome = f"{appeal.outcome.capitalize()} by {by}, {when}: {appeal.outcome_reasons}"
    return cards.AppealView(
        appeal_id=appeal.id,
        reference=incident.reference,
        route=ROUTE_LABELS[AppealRoute(appeal.route)],
        against=against,
        customer=customer_label(customer),
        received=local_date(appeal.received_on),
        late_warning="Late: received after the time to appeal. The deciding body may still accept it."
        if appeal.late
        else None,
        logged_by=await decisions.name_of(session, appeal.logged_by_id),
        decision=deciding,
        restrictions=[
            f"{RESTRICTION_LABELS[RestrictionType(r.type)]}: {r.details} "
            f"({r.status}, {restriction_period(r)})"
            for r in await appealed(session, appeal)
        ],
        grounds=appeal.grounds,
        history=[
            f"{len(history.incidents)} other incident(s)",
            f"{sum(r.status == RestrictionStatus.ACTIVE.value for r in history.restrictions)} "
            f"active restriction(s), {len(history.restrictions)} in all",
            f"{len(history.restorative_steps)} restorative step(s) recorded",
            f"{len(history.appeals)} appeal(s)",
        ],
        status=appeal.status,
        outcome=outcome,
        letter_id=letter.id if letter else None,
        letter_pending=bool(letter and not (letter.sent_on or letter.not_appropriate_reason)),
        can_hear=True if actor is None else await may_hear(session, actor, appeal),
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
                return await _form(session, services, incident, {}, {})
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
        if appeal.status != "open":
            return CloseDialog(OUTCOME_RECORDED)
        outcome = data.get("outcome")
        if not isinstance(outcome, str) or outcome not in cards.OUTCOME_TITLES:
            return CloseDialog("That is not an appeal outcome.")
        in_force = [r for r in await appealed(session, appeal) if r.status == RestrictionStatus.ACTIVE.value]
        if outcome == "varied" and not in_force:
            return CloseDialog("There are no restrictions to vary: the outcome is upheld or overturned.")
        view = await view_of(session, services, appeal, actor)
        values = {k: v for k, v in data.items() if isinstance(v, str)}
        slots = _slot_defaults(in_force, services)
        if verb == cards.OUTCOME_FORM:
            return _outcome_step(view, outcome, values, {}, slots)
        return await _record_outcome(
            session, services, actor, appeal, outcome, data, values, in_force, slots, view
        )


def _outcome_step(
    view: cards.AppealView,
    outcome: str,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    slots: list[tuple[int, dict[str, str]]],
) -> ShowStep:
    return ShowStep(cards.outcome_form(view, outcome, values, errors, slots), f"Appeal on {view.reference}")


async def _record_outcome(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    appeal: Appeal,
    outcome: str,
    data: Mapping[str, Any],
    values: dict[str, str],
    appealed: list[Restriction],
    slots: list[tuple[int, dict[str, str]]],
    view: cards.AppealView,
) -> DialogAnswer:
    reasons = values.get("reasons", "").strip()
    errors: dict[str, str] = {} if reasons else {"reasons": "Give the reasons for the outcome"}
    draft = None
    if outcome == "varied":
        merged = {**{f"restriction_{n}_{k}": v for n, d in slots for k, v in d.items()}, **values}
        draft, parse_errors = decision_form.parse(
            DecisionKind.ACTIVE_MANAGEMENT, {**merged, "reasons": reasons}, slots=len(slots)
        )
        errors.update(parse_errors)
        if draft is not None and len(draft.restrictions) != len(slots):
            # Each appealed restriction is set out as it will be; lifting one is "overturned".
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
    if errors:
        return _outcome_step(view, outcome, values, errors, slots)
    now = services.clock()
    claimed = await session.execute(
        update(Appeal)
        .where(Appeal.id == appeal.id, Appeal.status == "open")
        .values(
            status="decided",
            outcome=AppealOutcome(outcome).value,
            outcome_reasons=reasons[:4000],
            outcome_by_id=actor.person_id,
            outcome_at=now,
            open_key=None,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return CloseDialog(OUTCOME_RECORDED)
    changed: list[int] = []
    if outcome in ("varied", "overturned"):
        ending = RestrictionStatus.VARIED if outcome == "varied" else RestrictionStatus.LIFTED
        for n, r in enumerate(appealed, start=1):
            await session.execute(
                update(Restriction)
                .where(Restriction.id == r.id, Restriction.status == RestrictionStatus.ACTIVE.value)
                .values(
                    status=ending.value,
                    ended_at=now,
                    ended_reason=f"{outcome.capitalize()} on appeal",
                    next_reminder_on=None,
                )
                .execution_options(synchronize_session=False)
            )
            changed.append(r.id)
            if draft is not None:
                decisions.replace_restriction(
                    session,
                    r,
                    draft.restrictions[n - 1],
                    reviewer_id=r.reviewer_id or actor.person_id,
                    holidays=services.holidays,
                )
    incident = await session.get(Incident, appeal.incident_id)
    assert incident is not None
    letter = await decisions.add_letter(
        session,
        LetterKind.APPEAL_OUTCOME,
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
        action="appeal.outcome",
        record_type="appeal",
        record_id=appeal.id,
        detail={"outcome": outcome, "restrictions_changed": changed, "letter": letter.id},
    )
    await session.refresh(appeal)
    # Every copy of the appeal's card shows the outcome, and the thread or chat is told.
    fresh = await view_of(session, services, appeal, None)
    done_card = cards.appeal_card(fresh)
    for posted in await outbox.for_record(session, "appeal", appeal.id, purpose=POSTED):
        if posted.status == outbox.FAILED:
            continue
        recipient = outbox.Recipient(person_id=posted.person_id, channel_id=posted.channel_id)
        outbox.enqueue(
            session,
            recipient,
            card_message(done_card, summary=f"Appeal on {incident.reference}: {outcome}"),
            purpose=CARD_UPDATED,
            now=now,
            record_type="appeal",
            record_id=appeal.id,
            dedupe_key=f"appeal:{appeal.id}:updated:{posted.id}",
            updates_id=posted.id,
        )
    outbox.enqueue(
        session,
        outbox.Recipient(person_id=appeal.logged_by_id),
        card_message(
            card(
                [
                    heading(f"Appeal on {incident.reference}: {outcome}", size="Medium"),
                    text(fresh.outcome or ""),
                ]
            ),
            summary=f"Appeal outcome: {incident.reference}",
        ),
        purpose="appeal.outcome",
        now=now,
        record_type="appeal",
        record_id=appeal.id,
        dedupe_key=f"appeal:{appeal.id}:outcome",
    )
    await session.commit()
    services.outbox_written()
    # The dialog closes; every copy of the appeal's card shows the outcome, from the outbox.
    return CloseDialog(f"{fresh.outcome or ''} The appeal's card shows it, with the outcome letter.")


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
        url = await letter_links.issue_link(session, services, actor.person_id, letter.id, large=large)
        if url is None:
            return cards.appeal_card(view, notice=NO_LINKS)
        return with_download(cards.appeal_card(view), url, large)
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
            if (
                working_days_between(
                    appeal.logged_at.astimezone(services.zone).date(), today, services.holidays
                )
                < services.appeal_outcome_working_days
            ):
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
                        f"The appeal on {incident.reference if incident else ''} was logged on "
                        f"{local_date(appeal.logged_at.astimezone(services.zone).date())}: "
                        f"{services.appeal_outcome_working_days} working days ago. Please record its outcome."
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
