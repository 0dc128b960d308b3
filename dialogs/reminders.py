"""Reminders found from the register, not from jobs held in memory.

Each reminder is claimed in the database in the same transaction that queues it (an UPDATE only
one instance can win), so two bot instances, or a restart mid-sweep, never send it twice, and a
crash before the commit loses nothing: the next sweep finds it again.
"""

from sqlalchemy import select, update

from cards import decision as decision_cards
from cards.elements import card, execute, heading, text
from cards.formatting import local_time
from dialogs.notify import card_message
from dialogs.turn import Services
from policy.working_days import working_days_between
from storage import outbox
from storage.models import Decision, Incident, Letter

LETTER_DAYS = 5


async def remind_unsent_letters(services: Services) -> int:
    """Tell the decider when, five working days on, neither *letter sent* nor *not appropriate to
    explain* is recorded. Returns how many reminders were queued."""
    now = services.clock()
    if not services.working_hours():
        return 0
    today = services.today()
    queued = 0
    async with services.sessions() as session:
        candidates = (
            await session.execute(
                select(Letter, Decision, Incident)
                .join(Decision, Decision.id == Letter.decision_id)
                .join(Incident, Incident.id == Decision.incident_id)
                .where(
                    Letter.sent_on.is_(None),
                    Letter.not_appropriate_reason.is_(None),
                    Letter.reminded_at.is_(None),
                )
                .order_by(Letter.id)
            )
        ).all()
        for letter, decision, incident in candidates:
            produced = letter.produced_at.astimezone(services.zone).date()
            if working_days_between(produced, today, services.holidays) < LETTER_DAYS:
                continue
            claimed = await session.execute(
                update(Letter)
                .where(Letter.id == letter.id, Letter.reminded_at.is_(None))
                .values(reminded_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                continue
            reminder = card(
                [
                    heading(f"Letter for {incident.reference} not recorded", size="Medium"),
                    text(
                        f"You decided on {incident.reference} on "
                        f"{local_time(decision.decided_at, services.zone)}. Five working days on, "
                        "the register shows neither that the letter was sent nor why it is not "
                        "appropriate to explain. Customers must be told in writing unless it is "
                        "not appropriate."
                    ),
                ],
                [
                    execute("Record letter sent", decision_cards.LETTER_SENT_FORM, {"letter": letter.id}),
                    execute(
                        "Not appropriate to explain",
                        decision_cards.LETTER_NOT_APPROPRIATE_FORM,
                        {"letter": letter.id},
                    ),
                ],
            )
            outbox.enqueue(
                session,
                outbox.Recipient(person_id=decision.decided_by_id),
                card_message(reminder, summary=f"Letter for {incident.reference} not recorded"),
                purpose="letter.reminder",
                now=now,
                record_type="letter",
                record_id=letter.id,
                dedupe_key=f"letter:{letter.id}:reminder",
            )
            queued += 1
        await session.commit()
    if queued:
        services.outbox_written()
    return queued
