"""Reminders found from the register, not from jobs held in memory.

Each reminder is claimed in the database in the same transaction that queues it (an UPDATE only
one instance can win), so two bot instances, or a restart mid-sweep, never send it twice, and a
crash before the commit loses nothing: the next sweep finds it again.
"""

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cards import appeal as appeal_cards
from cards import decision as decision_cards
from cards.elements import card, execute, heading, text
from cards.formatting import local_time
from dialogs.notify import card_message
from dialogs.turn import Services
from policy.decisions import LetterKind
from policy.working_days import working_days_between
from storage import outbox
from storage.models import Appeal, Decision, Incident, Letter

LETTER_DAYS = 5
KIND_WORDS = {
    LetterKind.DECISION.value: "decision letter",
    LetterKind.VARIATION.value: "letter about the changed restriction",
    LetterKind.CONTINUATION.value: "letter about the continued restriction",
    LetterKind.LIFTED.value: "letter about the lifted restriction",
    LetterKind.REINSTATEMENT.value: "reinstatement letter",
    LetterKind.APPEAL_OUTCOME.value: "appeal outcome letter",
}


async def _reference(session: AsyncSession, letter: Letter) -> str:
    appeal = await session.get(Appeal, letter.appeal_id) if letter.appeal_id else None
    decision = await session.get(Decision, letter.decision_id) if letter.decision_id else None
    incident_id = appeal.incident_id if appeal else decision.incident_id if decision else None
    incident = await session.get(Incident, incident_id) if incident_id else None
    return incident.reference if incident else "a customer"


def _actions(letter: Letter) -> list:
    """The buttons that record the letter's fate, from the card of whoever owns it."""
    if letter.kind == LetterKind.APPEAL_OUTCOME.value:
        return [
            execute("Record letter sent", appeal_cards.LETTER_SENT_FORM, {"appeal": letter.appeal_id}),
            execute(
                "Not appropriate to explain",
                appeal_cards.LETTER_NOT_APPROPRIATE_FORM,
                {"appeal": letter.appeal_id},
            ),
        ]
    return [
        execute("Record letter sent", decision_cards.LETTER_SENT_FORM, {"letter": letter.id}),
        execute(
            "Not appropriate to explain", decision_cards.LETTER_NOT_APPROPRIATE_FORM, {"letter": letter.id}
        ),
    ]


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
            await session.scalars(
                select(Letter)
                .where(
                    Letter.sent_on.is_(None),
                    Letter.not_appropriate_reason.is_(None),
                    Letter.reminded_at.is_(None),
                )
                .order_by(Letter.id)
            )
        ).all()
        for letter in candidates:
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
            reference = await _reference(session, letter)
            reminder = card(
                [
                    heading(f"Letter for {reference} not recorded", size="Medium"),
                    text(
                        f"The {KIND_WORDS.get(letter.kind, 'letter')} you produced on "
                        f"{local_time(letter.produced_at, services.zone)} is not recorded as sent, nor "
                        "why it is not appropriate to explain, five working days on. Customers must be "
                        "told in writing unless it is not appropriate."
                    ),
                ],
                _actions(letter),
            )
            outbox.enqueue(
                session,
                outbox.Recipient(person_id=letter.produced_by_id),
                card_message(reminder, summary=f"Letter for {reference} not recorded"),
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
