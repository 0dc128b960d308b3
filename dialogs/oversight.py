"""Restrictions with no review come before the register keepers at least yearly.

A restriction may have no review where its reason makes one inappropriate; the policy still has
"the status of customers with active management arrangements reviewed regularly". The keepers see
each from its start, then at the interval (`NO_REVIEW_OVERSIGHT_MONTHS`, 12 by default), in a queue
of their own (`no review`). They oversee, and do not decide: they record that it still stands, or
ask its reviewer to review it now.
"""

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cards import review as cards
from cards.formatting import local_date, local_time
from dialogs.commands import command
from dialogs.notify import card_message, tell_keepers
from dialogs.turn import Actor, CloseDialog, DialogAnswer, Reply, Services, ShowStep
from policy.deciding import add_months
from policy.decisions import RESTRICTION_LABELS, RestrictionStatus, RestrictionType
from storage import audit, decisions, outbox
from storage.models import Customer, Restriction

BATCH = 500
PURPOSE = "restriction.oversight"


async def _view(session: AsyncSession, services: Services, r: Restriction) -> cards.ReviewView:
    from dialogs.reviews import view_of  # the reviewer's view: one way of showing a restriction

    return await view_of(session, services, r)


async def _card(session: AsyncSession, services: Services, r: Restriction) -> dict[str, Any]:
    last = None
    if r.overseen_at is not None:
        who = await decisions.name_of(session, r.overseen_by_id)
        last = f"{local_time(r.overseen_at, services.zone)} by {who}"
    return cards.oversight_card(await _view(session, services, r), r.no_review_reason or "", last)


async def sweep_no_review(services: Services) -> int:
    """Put each restriction with no review that is due before the keepers; returns how many."""
    if not services.working_hours():
        return 0
    today = services.today()
    now = services.clock()
    queued = 0
    async with services.reading() as session:
        due = (
            await session.execute(
                select(Restriction.id, Restriction.oversight_due_on)
                .where(
                    Restriction.status == RestrictionStatus.ACTIVE.value,
                    Restriction.oversight_due_on <= today,
                )
                .order_by(Restriction.oversight_due_on, Restriction.id)
                .limit(BATCH)
            )
        ).all()
    for restriction_id, seen_on in due:
        async with services.sessions() as session:
            # Claimed by moving the date on: unless the keepers record it sooner, it comes again
            # at the interval, so it is never out of sight for longer.
            claimed = await session.execute(
                update(Restriction)
                .where(
                    Restriction.id == restriction_id,
                    Restriction.status == RestrictionStatus.ACTIVE.value,
                    Restriction.oversight_due_on == seen_on,
                )
                .values(oversight_due_on=add_months(today, services.oversight_months))
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                continue
            r = await session.get(Restriction, restriction_id)
            assert r is not None
            view = await _view(session, services, r)
            await tell_keepers(
                session,
                card_message(await _card(session, services, r), summary=f"No review: {view.customer}"),
                purpose=PURPOSE,
                now=now,
                record_type="restriction",
                record_id=r.id,
                dedupe=f"oversight:{r.id}:{seen_on.isoformat()}",
            )
            await audit.record(
                session,
                now=now,
                actor_id=None,
                action="restriction.oversight_due",
                record_type="restriction",
                record_id=r.id,
            )
            await session.commit()
            queued += 1
    if queued:
        services.outbox_written()
    return queued


async def oversee(
    session: AsyncSession,
    services: Services,
    actor: Actor,
    r: Restriction,
    verb: str,
    data: Mapping[str, Any],
) -> DialogAnswer:
    """The keepers' oversight of a restriction with no review (the caller checked the rule)."""
    if r.status != RestrictionStatus.ACTIVE.value or r.review_due_on is not None:
        return CloseDialog("This restriction is no longer one with no review. Nothing was changed.")
    view = await _view(session, services, r)
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    if verb == cards.OVERSEE_FORM:
        return ShowStep(cards.oversight_form(view, values, {}), "Oversee a restriction with no review")
    outcome = data.get("outcome")
    note = str(data.get("note") or "").strip()
    errors = {}
    if outcome not in cards.OVERSIGHT_OUTCOMES:
        errors["outcome"] = "Choose what the register keepers found"
    if not note:
        errors["note"] = (
            "Say what was looked at: the reason for no review, incidents since, the customer's needs"
        )
    if errors:
        return ShowStep(cards.oversight_form(view, values, errors), "Oversee a restriction with no review")
    now = services.clock()
    today = services.today()
    following = add_months(today, services.oversight_months)
    await session.execute(
        update(Restriction)
        .where(Restriction.id == r.id)
        .values(overseen_at=now, overseen_by_id=actor.person_id, oversight_due_on=following)
        .execution_options(synchronize_session=False)
    )
    await audit.record(
        session,
        now=now,
        actor_id=actor.person_id,
        action="restriction.overseen",
        record_type="restriction",
        record_id=r.id,
        detail={"outcome": outcome},
    )
    await session.refresh(r)
    if outcome == "review" and r.reviewer_id is not None:
        # The reviewer decides: continue (with a review date from now on), vary or lift.
        outbox.enqueue(
            session,
            outbox.Recipient(person_id=r.reviewer_id),
            card_message(cards.review_card(view), summary=f"Please review: {view.customer}"),
            purpose="review.due",
            now=now,
            record_type="restriction",
            record_id=r.id,
            dedupe_key=f"oversight:{r.id}:{now.isoformat()}:review",
        )
    # Every keeper's card about it now shows this oversight.
    done = await _card(session, services, r)
    for sent in await outbox.for_record(session, "restriction", r.id, purpose=PURPOSE):
        if sent.status != outbox.FAILED and sent.person_id is not None:
            outbox.enqueue(
                session,
                outbox.Recipient(person_id=sent.person_id),
                card_message(done, summary="Restriction overseen"),
                purpose="restriction.oversight_updated",
                now=now,
                record_type="restriction",
                record_id=r.id,
                dedupe_key=f"oversight:{r.id}:{now.isoformat()}:updated:{sent.id}",
                updates_id=sent.id,
            )
    await session.commit()
    services.outbox_written()
    reviewer = await decisions.name_of(session, r.reviewer_id)
    asked = f" {reviewer} is asked to review it now." if outcome == "review" else ""
    return CloseDialog(
        f"Oversight recorded by {actor.display_name}; it comes before the register keepers again by "
        f"{local_date(following)}.{asked}"
    )


@command(
    r"no\s+review",
    "no review",
    "the restrictions with no review, which the register keepers look at at least yearly",
    phrases=("restrictions without review", "unreviewed restrictions", "oversight queue"),
    allowed=lambda roles: roles.is_register_keeper,
    private=True,
)
async def _queue(services: Services, actor: Actor, _match: re.Match[str]) -> list[Reply]:
    today = services.today()
    async with services.sessions() as session:
        rows = (
            await session.execute(
                select(Restriction, Customer)
                .join(Customer, Customer.id == Restriction.customer_id)
                .where(
                    Restriction.status == RestrictionStatus.ACTIVE.value,
                    Restriction.review_due_on.is_(None),
                )
                .order_by(Restriction.oversight_due_on, Restriction.id)
            )
        ).all()
        lines = []
        for r, customer in rows:
            name = "(anonymised)" if customer.anonymised_at else customer.name
            what = f"{name} · {RESTRICTION_LABELS[RestrictionType(r.type)]}"
            # Due: never yet overseen, or its year has come round again.
            due = r.overseen_at is None or (r.oversight_due_on is not None and r.oversight_due_on <= today)
            last = (
                f"last overseen {local_date(r.overseen_at.astimezone(services.zone).date())}"
                if r.overseen_at
                else "never overseen"
            )
            when = (
                f"Due now ({last})"
                if due or r.oversight_due_on is None
                else f"Before the keepers by {local_date(r.oversight_due_on)} ({last})"
            )
            lines.append((r.id, what, when, due or r.oversight_due_on is None))
        # Reading the queue names customers: a read of the register.
        await audit.record(
            session,
            now=services.clock(),
            actor_id=actor.person_id,
            action="restriction.queue_viewed",
            record_type="restriction",
            detail={"shown": len(lines)},
        )
        await session.commit()
    return [Reply(card=cards.no_review_queue_card(lines), summary="Restrictions with no review")]
