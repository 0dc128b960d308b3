"""One person cannot delay someone else's urgent notification: a category-one card overtakes the
manager's queued messages, and a run of notes on one incident goes as one message."""

import re
from datetime import timedelta

from storage import outbox
from storage.models import OutboxMessage
from tests.support.reporting import report
from tests.support.teams import AMY, CATH, SAM

NOTES = [f"Note {n:02d}: he rang again." for n in range(1, 26)]


def _notes_in(sent) -> list[str]:
    """The notes a manager's message shows, in the order it shows them."""
    return [
        block["text"]
        for card in sent.cards
        for block in card["body"]
        if re.match(r"Note \d\d:", block.get("text", ""))
    ]


async def _meet_everyone(harness) -> None:
    await harness.import_roles()
    for person in (AMY, SAM, CATH):
        await harness.say(person, "hi")
    await harness.deliver()


async def test_a_category_one_card_overtakes_one_reporters_run_of_notes(harness):
    """Through the endpoint, at Teams' pace: 25 notes from Sam, then Cath's category-one report
    for the same manager. Amy gets the urgent card first, then the notes, in few messages, in
    order, each once."""
    await _meet_everyone(harness)
    reference = await report(harness, SAM)
    await harness.deliver()
    harness.connector.clear()
    for words in NOTES:
        await harness.say(SAM, f"add to {reference} {words}")
    urgent = await report(
        harness,
        CATH,
        customer={"new_name": "Lee Smith", "new_address": "2 Bank Street", "new_postcode": "TD1 1AA"},
        behaviour={"behaviours": "violent_aggressive_threatening", "description": "Threatened staff."},
        category="one",
    )
    assert urgent and urgent != reference

    await harness.deliver()
    to_amy = harness.connector.to(AMY.chat_id)
    assert to_amy[0].activity["summary"].startswith(f"URGENT Incident {urgent}")
    notes = to_amy[1:]
    assert len(notes) == 2  # 20 notes a message at most
    assert [s.activity["summary"] for s in notes] == [
        f"20 notes added to {reference}",
        f"5 notes added to {reference}",
    ]
    assert [n for s in notes for n in _notes_in(s)] == NOTES  # all of them, in order, once
    rows = await harness.rows(OutboxMessage)
    assert {r.status for r in rows} == {outbox.SENT}
    assert await harness.deliver() == 0


async def test_a_note_message_a_sender_holds_is_not_changed(harness):
    """A message claimed for sending may be on its way to Teams as it was: the next note is
    queued on its own rather than merged into it, and nothing is lost or sent twice."""
    await _meet_everyone(harness)
    reference = await report(harness, SAM)
    await harness.deliver()
    harness.connector.clear()
    await harness.say(SAM, f"add to {reference} {NOTES[0]}")
    async with harness.sessions() as session:  # a sender claims it, then stalls
        (held,) = await outbox.claim_due(session, now=harness.clock(), lease=timedelta(minutes=2))
    for words in NOTES[1:3]:
        await harness.say(SAM, f"add to {reference} {words}")

    rows = sorted(
        await harness.rows(OutboxMessage, OutboxMessage.purpose == "incident.note_added"), key=lambda r: r.id
    )
    assert [(r.id, r.gathered) for r in rows] == [(held.id, 1), (rows[1].id, 2)]
    assert NOTES[1] not in str(rows[0].activity)
    harness.clock.advance(minutes=3)  # the stalled sender's lease runs out
    await harness.deliver()
    to_amy = harness.connector.to(AMY.chat_id)
    assert [n for s in to_amy for n in _notes_in(s)] == NOTES[:3]


async def test_the_claim_takes_each_recipients_urgent_message_first_and_keeps_followers_behind(
    sessions, clock
):
    """Each recipient's next message is their oldest pending urgent one, else their oldest; an
    update takes its root's priority, whatever it asked for, so it never goes before its root."""
    board, other = outbox.Recipient(channel_id="19:board"), outbox.Recipient(channel_id="19:other")
    async with sessions() as session:

        def queue(words: str, priority: int = outbox.NORMAL, updates: OutboxMessage | None = None):
            return outbox.enqueue(
                session,
                board,
                {"type": "message", "text": words},
                purpose="test",
                now=clock(),
                priority=priority,
                updates_id=updates.id if updates else None,
            )

        first = queue("first")
        queue("second")
        await session.flush()
        urgent = queue("urgent", outbox.URGENT)
        await session.flush()
        queue("update of first", outbox.URGENT, updates=first)  # asks urgent: stays behind first
        await outbox.enqueue_all(
            session,
            [
                outbox.Queued(
                    board, outbox.encode({"type": "message", "text": "urgent too"}), "test", priority=1
                ),
                outbox.Queued(
                    board,
                    outbox.encode({"type": "message", "text": "update of urgent"}),
                    "test",
                    updates_id=urgent.id,
                ),
                outbox.Queued(other, outbox.encode({"type": "message", "text": "elsewhere"}), "test"),
            ],
            now=clock(),
        )
        await session.commit()

    order: list[str] = []
    while True:
        async with sessions() as session:
            claimed = await outbox.claim_due(session, now=clock(), lease=timedelta(minutes=2))
            if not claimed:
                break
            order += [claim.activity for claim in claimed if claim.channel_id == board.channel_id]
            await outbox.record(
                session,
                [
                    outbox.Outcome(c.id, outbox.SENT, clock(), activity_id=f"a{c.id}", conversation_id="c")
                    for c in claimed
                ],
            )
    assert [re.search(r'"text": "([^"]+)"', a).group(1) for a in order] == [
        "urgent",
        "urgent too",
        "update of urgent",
        "first",
        "second",
        "update of first",
    ]
