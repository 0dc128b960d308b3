"""Restrictions reviewed on time: reminders, escalation, expiry, review outcomes, reinstatement.

The register is the truth: each sweep reads what is due from the restrictions' own dates (by
index, so only the due rows) and claims each reminder with an UPDATE that only one bot instance
can win, in the same transaction that queues it in the outbox.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cards import review as cards
from cards.decision import no_access_card, no_access_text
from cards.elements import Card, card, heading, text
from cards.formatting import local_date, local_time
from dialogs import decision_form, oversight, permissions
from dialogs.decide import OUT_OF_DATE, customer_label, restriction_period, restriction_review
from dialogs.ids import record_id
from dialogs.notify import card_message, tell_keepers
from dialogs.turn import Actor, CloseDialog, DialogAnswer, Services, ShowStep
from policy.categories import CATEGORIES, Category
from policy.deciding import DecisionDraft, problems
from policy.decisions import (
    RESTRICTION_LABELS,
    SCOPE_LABELS,
    DecisionKind,
    LetterKind,
    RestrictionScope,
    RestrictionStatus,
    RestrictionType,
    ReviewOutcome,
)
from policy.reviews import Stage, due_now, first_reminder
from policy.roles import Roles
from storage import audit, case_facts, decisions, outbox, people
from storage.models import Customer, Decision, Incident, Letter, Restriction, Review, ServiceArea

BATCH = 500
ALREADY_REVIEWED = "This review was already recorded. Nothing was changed."
ALREADY_REINSTATED = "This restriction was already reinstated. Nothing was changed."


# --- what the reviewer sees ---------------------------------------------------------------------


async def view_of(
    session: AsyncSession,
    services: Services,
    r: Restriction,
    outcome: str | None = None,
    *,
    viewer: tuple[int, Roles] | None = None,
) -> cards.ReviewView:
    """The restriction as its cards show it now; `viewer`: the person (id and roles) a card is
    for, whose buttons are then only those they may use."""
    zone = services.zone
    customer = await session.get(Customer, r.customer_id)
    decision = await session.get(Decision, r.decision_id)
    incident = await session.get(Incident, decision.incident_id) if decision else None
    area = await session.get(ServiceArea, r.service_area_id)
    reviews = (
        await session.scalars(select(Review).where(Review.restriction_id == r.id).order_by(Review.done_at))
    ).all()
    history = [
        f"{local_time(v.done_at, zone)}: {v.outcome} by "
        f"{await decisions.name_of(session, v.reviewer_id)}: {v.reasons}"
        for v in reviews
    ]
    previous = await session.get(Restriction, r.replaces_id) if r.replaces_id else None
    while previous is not None:
        label = RESTRICTION_LABELS[RestrictionType(previous.type)]
        history.append(f"Replaces: {label} ({previous.status}), {restriction_period(previous)}")
        previous = await session.get(Restriction, previous.replaces_id) if previous.replaces_id else None
    since = (
        await session.scalars(
            select(Incident)
            .where(
                Incident.customer_id == r.customer_id,
                Incident.occurred_at >= datetime.combine(r.starts_on, datetime.min.time(), tzinfo=zone),
                Incident.id != (incident.id if incident else -1),
            )
            .order_by(Incident.occurred_at)
        )
    ).all()
    letter = await session.scalar(
        select(Letter).where(Letter.restriction_id == r.id).order_by(Letter.id.desc()).limit(1)
    )
    deciders = await people.deciders(session, r.service_area_id)
    watchers = [p.teams_user_id for p in [*deciders.managers, *deciders.keepers] if p.teams_user_id]
    ended = r.status in (RestrictionStatus.LIFTED.value, RestrictionStatus.EXPIRED.value)
    replaced = ended and (
        await session.scalar(select(Restriction.id).where(Restriction.replaces_id == r.id)) is not None
    )
    can_review, can_reinstate = True, ended and not replaced
    if viewer is not None:
        facts = await case_facts.for_restriction(session, r)
        person, roles = viewer
        can_review = bool(permissions.allows(cards.FORM, roles, person, facts))
        can_reinstate = can_reinstate and bool(permissions.allows(cards.REINSTATE_FORM, roles, person, facts))
    return cards.ReviewView(
        due_label=local_date(r.review_due_on) if r.review_due_on else "",
        overdue=bool(r.review_due_on and r.review_due_on < services.today()),
        can_review=can_review,
        can_reinstate=can_reinstate,
        refresh_user_ids=watchers,
        restriction_id=r.id,
        customer=customer_label(customer),
        label=RESTRICTION_LABELS[RestrictionType(r.type)],
        details=r.details,
        scope=SCOPE_LABELS[RestrictionScope(r.scope)]
        + (f" ({area.name})" if area and r.scope == RestrictionScope.SERVICE.value else ""),
        instructions=r.frontline_instructions,
        period=restriction_period(r),
        review_due=restriction_review(r),
        due_on=r.review_due_on.isoformat() if r.review_due_on else "",
        status=r.status,
        reference=incident.reference if incident else "",
        workspace_url=(
            services.workspace_link(f"incident/{incident.id}")
            if services.workspace_link and incident
            else None
        ),
        history=history,
        incidents_since=[
            f"{i.reference} · {local_time(i.occurred_at, zone)} · {CATEGORIES[Category(i.category)].label}"
            for i in since
        ],
        letter_id=letter.id if letter else None,
        letter_pending=bool(letter and not (letter.sent_on or letter.not_appropriate_reason)),
        outcome=outcome,
    )


# --- the sweeps ---------------------------------------------------------------------------------


async def sweep_reviews(services: Services) -> int:
    """Send the review reminders due today; returns how many were queued."""
    if not services.working_hours():
        return 0
    today = services.today()
    queued = 0
    async with services.sessions() as session:
        due = (
            await session.execute(
                select(
                    Restriction.id,
                    Restriction.next_reminder_on,
                    Restriction.reminder_stage,
                    Restriction.review_due_on,
                )
                .where(
                    Restriction.status == RestrictionStatus.ACTIVE.value,
                    Restriction.next_reminder_on <= today,
                )
                .order_by(Restriction.next_reminder_on, Restriction.id)
                .limit(BATCH)
            )
        ).all()
    # One short transaction per reminder: the audit trail's head is locked only for a moment, and
    # a crash part-way loses nothing, since what was not committed is found by the next sweep.
    for restriction_id, seen_on, seen_stage, review_due_on in due:
        stage, upcoming = (
            due_now(review_due_on, today, Stage(seen_stage) if seen_stage else None, services.holidays)
            if review_due_on
            else (None, None)
        )
        async with services.sessions() as session:
            claimed = await session.execute(
                update(Restriction)
                .where(
                    Restriction.id == restriction_id,
                    Restriction.status == RestrictionStatus.ACTIVE.value,
                    Restriction.next_reminder_on == seen_on,
                )
                .values(next_reminder_on=upcoming, reminder_stage=stage.value if stage else seen_stage)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                continue  # another instance took it
            if stage is not None:
                restriction = await session.get(Restriction, restriction_id)
                assert restriction is not None
                await _remind(session, services, restriction, stage)
                queued += 1
            await session.commit()
    if queued:
        services.outbox_written()
    return queued


async def _remind(session: AsyncSession, services: Services, r: Restriction, stage: Stage) -> None:
    now = services.clock()
    reviewer_roles = await people.roles_for(session, r.reviewer_id) if r.reviewer_id else None
    view = await view_of(
        session,
        services,
        r,
        viewer=(r.reviewer_id, reviewer_roles) if r.reviewer_id and reviewer_roles else None,
    )
    key = f"review:{r.id}:{r.review_due_on}:{stage.value}"
    if stage is Stage.ESCALATED:
        reviewer = await decisions.name_of(session, r.reviewer_id)
        await tell_keepers(
            session,
            card_message(cards.escalation_card(view, reviewer), summary=f"Review overdue: {view.customer}"),
            purpose="review.escalated",
            now=now,
            record_type="restriction",
            record_id=r.id,
            dedupe=key,
        )
    elif r.reviewer_id is not None:
        outbox.enqueue(
            session,
            outbox.Recipient(person_id=r.reviewer_id),
            card_message(
                cards.review_card(view, stage=stage.value), summary=cards.STAGE_HEADINGS[stage.value]
            ),
            purpose=f"review.{stage.value}",
            now=now,
            record_type="restriction",
            record_id=r.id,
            dedupe_key=key,
        )
    await audit.record(
        session,
        now=now,
        actor_id=None,
        action=f"review.reminder_{stage.value}",
        record_type="restriction",
        record_id=r.id,
        detail={"review_due_on": r.review_due_on.isoformat() if r.review_due_on else None},
    )


async def sweep_expiry(services: Services) -> int:
    """A restriction with an end date ends by itself, and the decider is told (in working hours;
    `check` already treats it as ended from its end date)."""
    if not services.working_hours():
        return 0
    today = services.today()
    now = services.clock()
    ended = 0
    async with services.sessions() as session:
        due = (
            await session.scalars(
                select(Restriction.id)
                .where(Restriction.status == RestrictionStatus.ACTIVE.value, Restriction.ends_on < today)
                .order_by(Restriction.id)
                .limit(BATCH)
            )
        ).all()
    for restriction_id in due:
        async with services.sessions() as session:
            claimed = await session.execute(
                update(Restriction)
                .where(Restriction.id == restriction_id, Restriction.status == RestrictionStatus.ACTIVE.value)
                .values(
                    status=RestrictionStatus.EXPIRED.value,
                    ended_at=now,
                    ended_reason="Reached its end date",
                    next_reminder_on=None,
                )
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                continue
            r = await session.get(Restriction, restriction_id)
            assert r is not None
            decision = await session.get(Decision, r.decision_id)
            await audit.record(
                session,
                now=now,
                actor_id=None,
                action="restriction.expired",
                record_type="restriction",
                record_id=r.id,
            )
            # The cards sent before about its review no longer offer one.
            await update_cards(session, services, r.id, r, now, dedupe=f"restriction:{r.id}:expired")
            if decision is not None:
                roles = await people.roles_for(session, decision.decided_by_id)
                view = await view_of(session, services, r, viewer=(decision.decided_by_id, roles))
                outbox.enqueue(
                    session,
                    outbox.Recipient(person_id=decision.decided_by_id),
                    card_message(
                        cards.ended_card(
                            view, f"It reached its end date, {local_date(r.ends_on)}, and has ended."
                        ),
                        summary=f"Restriction ended: {view.customer}",
                    ),
                    purpose="restriction.expired",
                    now=now,
                    record_type="restriction",
                    record_id=r.id,
                    dedupe_key=f"restriction:{r.id}:expired",
                )
            await session.commit()
            ended += 1
    if ended:
        services.outbox_written()
    return ended


async def sweep_follow_ups(services: Services) -> int:
    """Follow-ups set in a restorative approach remind the manager on their date."""
    if not services.working_hours():
        return 0
    today = services.today()
    now = services.clock()
    queued = 0
    async with services.sessions() as session:
        due = (
            await session.execute(
                select(Decision.id, Incident.reference, Decision.decided_by_id, Decision.follow_up_on)
                .join(Incident, Incident.id == Decision.incident_id)
                .where(Decision.follow_up_on <= today, Decision.follow_up_reminded_at.is_(None))
                .order_by(Decision.follow_up_on)
                .limit(BATCH)
            )
        ).all()
    for decision_id, reference, decider, follow_up_on in due:
        async with services.sessions() as session:
            claimed = await session.execute(
                update(Decision)
                .where(Decision.id == decision_id, Decision.follow_up_reminded_at.is_(None))
                .values(follow_up_reminded_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                continue
            reminder = card(
                [
                    heading(f"Follow-up due: {reference}", size="Medium"),
                    text(
                        f"You set a follow-up for {local_date(follow_up_on)} in the restorative "
                        f"approach on {reference}. Type **add to {reference}** with how it went."
                    ),
                ]
            )
            outbox.enqueue(
                session,
                outbox.Recipient(person_id=decider),
                card_message(reminder, summary=f"Follow-up due: {reference}"),
                purpose="decision.follow_up",
                now=now,
                record_type="decision",
                record_id=decision_id,
                dedupe_key=f"decision:{decision_id}:follow_up",
            )
            await session.commit()
            queued += 1
    if queued:
        services.outbox_written()
    return queued


# --- reviewing ----------------------------------------------------------------------------------


def _restriction_defaults(r: Restriction, services: Services) -> dict[str, str]:
    today = services.today()
    return {
        "type": r.type,
        "details": r.details,
        "scope": r.scope,
        "frontline_instructions": r.frontline_instructions,
        "starts_on": today.isoformat(),
        "review_due_on": services.reviews.default_review(today).isoformat(),
    }


async def _reviewable(
    session: AsyncSession, services: Services, actor: Actor, verb: str, data: Mapping[str, Any]
) -> Restriction | None:
    """The restriction named, if the actor may review it now; else the refusal is recorded."""
    restriction_id = record_id(data.get("restriction"))
    r = await session.get(Restriction, restriction_id) if restriction_id else None
    facts = await case_facts.for_restriction(session, r)
    if not await permissions.check(session, services, actor, verb, facts, restriction_id):
        return None
    return r


async def on_action(services: Services, actor: Actor, verb: str, data: Mapping[str, Any]) -> Card:
    """An `Action.Execute` on a review card: the card as it is now (the forms open in dialogs)."""
    async with services.sessions() as session:
        r = await _reviewable(session, services, actor, verb, data)
        if r is None:
            return no_access_card()
        outcome = await _recorded(session, services, r, data.get("due"))
        view = await view_of(session, services, r, outcome, viewer=(actor.person_id, actor.roles))
        if verb != cards.REFRESH:
            return cards.review_card(view, notice=OUT_OF_DATE)
        await audit.record(
            session,
            now=services.clock(),
            actor_id=actor.person_id,
            action="restriction.viewed",
            record_type="restriction",
            record_id=r.id,
        )
        await session.commit()
        return cards.review_card(view)


async def _recorded(session: AsyncSession, services: Services, r: Restriction, due: Any) -> str | None:
    """What became of the review a card is about, if it is not the restriction's current one."""
    if not isinstance(due, str) or not due or due == (r.review_due_on.isoformat() if r.review_due_on else ""):
        return None
    try:
        day = datetime.fromisoformat(due).date()
    except ValueError:
        return None
    done = await session.scalar(
        select(Review).where(Review.restriction_id == r.id, Review.due_on == day).order_by(Review.id).limit(1)
    )
    if done is None:
        return None
    who = await decisions.name_of(session, done.reviewer_id)
    when = local_time(done.done_at, services.zone)
    return f"The review due by {local_date(day)} was recorded: {done.outcome}, by {who}, {when}."


async def on_dialog(services: Services, actor: Actor, verb: str, data: Mapping[str, Any]) -> DialogAnswer:
    """A review's form, or reinstating from the full record, in a dialog."""
    async with services.sessions() as session:
        r = await _reviewable(session, services, actor, verb, data)
        if r is None:
            return CloseDialog(no_access_text())
        if verb in (cards.REINSTATE_FORM, cards.REINSTATE):
            return await _reinstate(session, services, actor, r, verb, data)
        if verb in (cards.OVERSEE_FORM, cards.OVERSEE):
            return await oversight.oversee(session, services, actor, r, verb, data)
        if r.status != RestrictionStatus.ACTIVE.value:
            return CloseDialog(
                f"This restriction is {r.status}: there is nothing to review. Nothing was changed."
            )
        outcome = next((o for o in cards.OUTCOME_TITLES if o.value == data.get("outcome")), None)
        if outcome is None or verb not in (cards.FORM, cards.SUBMIT):
            return CloseDialog("That is not a review outcome.")
        if data.get("due", "") != (r.review_due_on.isoformat() if r.review_due_on else ""):
            return CloseDialog(ALREADY_REVIEWED)
        view = await view_of(session, services, r)
        values = {k: v for k, v in data.items() if isinstance(v, str)}
        errors, draft = ({}, None) if verb == cards.FORM else _check(services, r, outcome, data)
        if verb == cards.FORM or errors:
            form = cards.review_form(
                view,
                outcome,
                values,
                errors,
                next_review_default=services.reviews.default_review(services.today()).isoformat(),
                restriction_defaults=_restriction_defaults(r, services),
            )
            return ShowStep(form, "Review a restriction")
        return await _record(session, services, actor, r, outcome, data, draft)


def _check(
    services: Services, r: Restriction, outcome: ReviewOutcome, data: Mapping[str, Any]
) -> tuple[dict[str, str], DecisionDraft | None]:
    errors: dict[str, str] = {}
    reasons = data.get("reasons")
    if not isinstance(reasons, str) or not reasons.strip():
        errors["reasons"] = "Give the reasons for this review's outcome"
    today = services.today()
    draft = None
    if outcome is ReviewOutcome.CONTINUE:
        try:
            next_review = datetime.fromisoformat(str(data.get("next_review_on", ""))).date()
        except ValueError:
            errors["next_review_on"] = "Enter the next review date, like 2027-05-23"
        else:
            latest = services.reviews.latest_review(today)
            if next_review <= today:
                errors["next_review_on"] = "The next review must be after today"
            elif next_review > latest:
                errors["next_review_on"] = (
                    f"Review within {services.reviews.max_months} months, by {latest.isoformat()}"
                )
    if outcome is ReviewOutcome.VARY:
        draft, parse_errors = decision_form.parse(
            DecisionKind.ACTIVE_MANAGEMENT, {**data, "reasons": str(reasons or "")}, slots=1
        )
        errors.update(parse_errors)
        if draft is not None:
            found = problems(
                draft, category=Category.ONE, restorative_recorded=True, today=today, reviews=services.reviews
            )
            # Whether to restrict at all was decided; a variation answers for the restriction, and,
            # as every decision to restrict does, for the customer's needs and adjustments.
            errors.update(
                {k: v for k, v in found.items() if k.startswith("restriction_") or k == "needs_considered"}
            )
    if outcome is ReviewOutcome.LIFT and data.get("notify_customer") not in ("yes", "no"):
        errors["notify_customer"] = "Choose whether the customer is told in writing"
    return errors, draft


async def _record(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    r: Restriction,
    outcome: ReviewOutcome,
    data: Mapping[str, Any],
    draft: DecisionDraft | None,
) -> DialogAnswer:
    now = services.clock()
    reasons = str(data.get("reasons", "")).strip()[:4000]
    next_review = None
    new_status = {
        ReviewOutcome.CONTINUE: RestrictionStatus.ACTIVE,
        ReviewOutcome.VARY: RestrictionStatus.VARIED,
        ReviewOutcome.LIFT: RestrictionStatus.LIFTED,
    }[outcome]
    values: dict[str, Any] = {"status": new_status.value}
    if outcome is ReviewOutcome.CONTINUE:
        next_review = datetime.fromisoformat(str(data["next_review_on"])).date()
        values.update(
            review_due_on=next_review,
            next_reminder_on=first_reminder(next_review, services.holidays),
            reminder_stage=None,
            oversight_due_on=None,  # reviewed from now on: no longer in the keepers' queue
        )
    else:
        values.update(ended_at=now, ended_reason=reasons, next_reminder_on=None)
    # The review is recorded once: a second reviewer acting on a stale card changes nothing.
    claimed = await session.execute(
        update(Restriction)
        .where(
            Restriction.id == r.id,
            Restriction.status == RestrictionStatus.ACTIVE.value,
            Restriction.review_due_on == r.review_due_on,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return CloseDialog(ALREADY_REVIEWED)
    notify = outcome is not ReviewOutcome.LIFT or data.get("notify_customer") == "yes"
    review = Review(
        restriction_id=r.id,
        due_on=r.review_due_on or services.today(),
        reviewer_id=actor.person_id,
        done_at=now,
        outcome=outcome.value,
        reasons=reasons,
        customer_explanation=str(data.get("customer_explanation") or "").strip()[:4000] or None,
        next_review_on=next_review,
        customer_notified=notify if outcome is ReviewOutcome.LIFT else None,
        needs_considered=draft.needs_considered if draft is not None else None,
        needs_considered_note=(draft.needs_considered_note or None) if draft is not None else None,
    )
    session.add(review)
    await session.flush()
    letter_about = r
    if outcome is ReviewOutcome.VARY and draft is not None:
        letter_about = decisions.replace_restriction(
            session,
            r,
            draft.restrictions[0],
            reviewer_id=r.reviewer_id or actor.person_id,
            holidays=services.holidays,
        )
        await session.flush()
    kind = {
        ReviewOutcome.CONTINUE: LetterKind.CONTINUATION,
        ReviewOutcome.VARY: LetterKind.VARIATION,
        ReviewOutcome.LIFT: LetterKind.LIFTED,
    }.get(outcome)
    letter = None
    if kind is not None and notify:
        letter = await decisions.add_letter(
            session,
            kind,
            customer_id=r.customer_id,
            produced_by=actor.person_id,
            now=now,
            decision_id=r.decision_id,
            review_id=review.id,
            restriction_id=letter_about.id,
        )
    await audit.record(
        session,
        now=now,
        actor_id=actor.person_id,
        action=f"review.{outcome.value}",
        record_type="restriction",
        record_id=r.id,
        detail={
            "review": review.id,
            "next_review_on": next_review.isoformat() if next_review else None,
            "replaced_by": letter_about.id if letter_about is not r else None,
            "customer_notified": review.customer_notified,
            "letter": letter.id if letter else None,
        },
    )
    await session.refresh(r)
    summary = {
        ReviewOutcome.CONTINUE: f"Continued by {actor.display_name}; next review by "
        f"{local_date(next_review) if next_review else ''}.",
        ReviewOutcome.VARY: f"Varied by {actor.display_name}: the new restriction applies from "
        f"{local_date(letter_about.starts_on)}.",
        ReviewOutcome.LIFT: f"Lifted by {actor.display_name}"
        + ("; a letter tells the customer." if notify else "; the customer is not told (reasons recorded)."),
    }[outcome]
    await update_cards(
        session,
        services,
        r.id,
        letter_about,
        now,
        dedupe=f"review:{review.id}:updated",
        outcome=summary,
        summary="Restriction reviewed",
    )
    await session.commit()
    services.outbox_written()
    return CloseDialog(summary)


# Every card about a restriction's review, the keepers' oversight of one with no review included.
REVIEW_CARD_PURPOSES = (
    "review.due_soon",
    "review.due",
    "review.overdue",
    "review.escalated",
    "restriction.oversight",
)


async def update_cards(
    session: AsyncSession,
    services: Services,
    restriction_id: int,
    shown: Restriction,
    now: datetime,
    *,
    dedupe: str,
    outcome: str | None = None,
    summary: str = "Restriction updated",
) -> None:
    """Every card sent about the restriction's review shows `shown` (the restriction as it now
    is: the variation's for a variation) and `outcome`, with buttons only for what its recipient
    can still do: the reviewer's with the letter's, the register keepers' without (they oversee)."""
    built: dict[int, Card] = {}
    for purpose in REVIEW_CARD_PURPOSES:
        for sent in await outbox.for_record(session, "restriction", restriction_id, purpose=purpose):
            if sent.status == outbox.FAILED or sent.person_id is None:
                continue
            if sent.person_id not in built:
                roles = await people.roles_for(session, sent.person_id)
                view = await view_of(session, services, shown, outcome, viewer=(sent.person_id, roles))
                built[sent.person_id] = cards.review_card(view)
            outbox.enqueue(
                session,
                outbox.Recipient(person_id=sent.person_id),
                card_message(built[sent.person_id], summary=summary),
                purpose="review.card_updated",
                now=now,
                record_type="restriction",
                record_id=restriction_id,
                dedupe_key=f"{dedupe}:{sent.id}",
                updates_id=sent.id,
            )


async def _reinstate(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    r: Restriction,
    verb: str,
    data: Mapping[str, Any],
) -> DialogAnswer:
    if r.status not in (RestrictionStatus.LIFTED.value, RestrictionStatus.EXPIRED.value):
        return CloseDialog("Only a lifted or ended restriction can be reinstated. Nothing was changed.")
    if await session.scalar(select(Restriction.id).where(Restriction.replaces_id == r.id)) is not None:
        return CloseDialog(ALREADY_REINSTATED)
    view = await view_of(session, services, r)
    defaults = _restriction_defaults(r, services)
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    if verb == cards.REINSTATE_FORM:
        return ShowStep(cards.reinstate_form(view, values, {}, defaults), "Reinstate a restriction")
    reasons = str(data.get("reasons") or "").strip()
    draft, errors = decision_form.parse(DecisionKind.ACTIVE_MANAGEMENT, {**data, "reasons": reasons}, slots=1)
    if draft is not None:
        found = problems(
            draft,
            category=Category.ONE,
            restorative_recorded=True,
            today=services.today(),
            reviews=services.reviews,
        )
        errors = {k: v for k, v in found.items() if k.startswith("restriction_") or k == "needs_considered"}
    if not reasons:
        errors["reasons"] = "Record why engagement deteriorated and the restriction is reinstated"
    if errors or draft is None:
        return ShowStep(cards.reinstate_form(view, values, errors, defaults), "Reinstate a restriction")
    now = services.clock()
    try:
        async with session.begin_nested():
            restored = decisions.replace_restriction(
                session, r, draft.restrictions[0], reviewer_id=actor.person_id, holidays=services.holidays
            )
            await session.flush()
    except IntegrityError:
        # Reinstated a moment ago by someone else (or a second press): once is enough.
        return CloseDialog(ALREADY_REINSTATED)
    # The reasons are kept as a review of the lifted restriction: the letter explains them.
    review = Review(
        restriction_id=r.id,
        due_on=services.today(),
        reviewer_id=actor.person_id,
        done_at=now,
        outcome=ReviewOutcome.REINSTATE.value,
        reasons=reasons[:4000],
        needs_considered=draft.needs_considered,
        needs_considered_note=draft.needs_considered_note or None,
        customer_explanation=draft.customer_explanation,
    )
    session.add(review)
    await session.flush()
    letter = await decisions.add_letter(
        session,
        LetterKind.REINSTATEMENT,
        customer_id=r.customer_id,
        produced_by=actor.person_id,
        now=now,
        decision_id=r.decision_id,
        review_id=review.id,
        restriction_id=restored.id,
    )
    await audit.record(
        session,
        now=now,
        actor_id=actor.person_id,
        action="restriction.reinstated",
        record_type="restriction",
        record_id=restored.id,
        detail={"replaces": r.id, "letter": letter.id},
    )
    view = await view_of(
        session,
        services,
        restored,
        outcome=f"Reinstated by {actor.display_name}. The customer must be told: download the letter below.",
    )
    # The dialog closes; the letter's buttons come on a card in the actor's chat, to keep.
    outbox.enqueue(
        session,
        outbox.Recipient(person_id=actor.person_id),
        card_message(cards.review_card(view), summary="Restriction reinstated"),
        purpose="restriction.reinstated",
        now=now,
        record_type="restriction",
        record_id=restored.id,
        dedupe_key=f"restriction:{restored.id}:reinstated",
    )
    await session.commit()
    services.outbox_written()
    return CloseDialog(
        f"Reinstated by {actor.display_name}. The customer must be told: the card with the letter "
        "is in your chat with me."
    )
