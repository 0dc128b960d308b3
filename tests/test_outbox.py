"""Proactive notifications: written to the outbox, delivered once, in order, through outages."""

import asyncio
import json
from datetime import timedelta

import pytest

from bot.config import Settings
from bot.connector import AppCredentialsTokenSource, TeamsConnector, with_id
from bot.proactive import OutboxSender
from cards.elements import card, text
from storage import outbox
from storage.db import create_engine, session_factory
from storage.models import OutboxMessage, Person
from tests.support.teams import AMY, CATH, CERI, KIM, SAM


def _note(words: str) -> dict:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": card([text(words)]),
            }
        ],
    }


async def _person_id(harness, who) -> int:
    (person,) = await harness.rows(Person, Person.email == who.email)
    return person.id


async def _queue(harness, who, *words: str) -> None:
    person_id = await _person_id(harness, who)
    async with harness.sessions() as session:
        for w in words:
            outbox.enqueue(
                session,
                outbox.Recipient(person_id=person_id),
                _note(w),
                purpose="test",
                now=harness.clock(),
            )
        await session.commit()


def _said(sent) -> list[str]:
    return [s.card["body"][0]["text"] for s in sent]


async def test_a_queued_notification_reaches_the_persons_chat_once(harness):
    await harness.import_roles()
    await harness.say(AMY, "hi")
    harness.connector.clear()
    await _queue(harness, AMY, "INC-2026-00001 needs a decision")
    assert await harness.deliver() == 1
    assert await harness.deliver() == 0
    assert _said(harness.connector.to(AMY.chat_id)) == ["INC-2026-00001 needs a decision"]
    (row,) = await harness.rows(OutboxMessage)
    assert row.status == "sent" and row.sent_activity_id and row.sent_at == harness.clock()


async def test_without_a_saved_conversation_it_waits_visibly_then_goes(harness):
    await harness.import_roles()
    await _queue(harness, KIM, "waiting for Kim")
    assert await harness.deliver() == 0
    (row,) = await harness.rows(OutboxMessage)
    assert row.status == "pending"
    assert row.last_error == outbox.NO_CONVERSATION
    async with harness.sessions() as session:
        assert [m.id for m in await outbox.waiting_for_conversation(session)] == [row.id]

    await harness.say(KIM, "hi")  # Kim opens the bot: now it can reach her
    harness.connector.clear()
    assert await harness.deliver() == 1
    assert _said(harness.connector.to(KIM.chat_id)) == ["waiting for Kim"]


async def test_throttling_honours_retry_after(harness):
    await harness.import_roles()
    await harness.say(AMY, "hi")
    harness.connector.clear()
    await _queue(harness, AMY, "throttled")
    harness.connector.fail(429, times=1, retry_after="120")
    assert await harness.deliver() == 0
    harness.clock.advance(seconds=119)
    assert await harness.deliver() == 0
    assert harness.connector.refused == 1  # not even tried before Retry-After ran out
    harness.clock.advance(seconds=2)
    assert await harness.deliver() == 1
    assert _said(harness.connector.sent) == ["throttled"]


async def test_precondition_failed_is_retried_with_back_off_as_teams_asks(harness):
    # 412: a conflicting operation on the same conversation; Teams says retry it, backing off.
    await harness.import_roles()
    await harness.say(AMY, "hi")
    harness.connector.clear()
    await _queue(harness, AMY, "after a conflict")
    harness.connector.fail(412, times=2)
    assert await harness.deliver() == 0
    harness.clock.advance(seconds=5)
    assert await harness.deliver() == 0
    harness.clock.advance(seconds=5)
    assert await harness.deliver() == 0  # the second wait is twice the first
    assert harness.connector.refused == 2
    harness.clock.advance(seconds=5)
    assert await harness.deliver() == 1
    assert _said(harness.connector.sent) == ["after a conflict"]


async def test_an_hour_of_outage_then_everything_arrives_once_in_order(harness):
    await harness.import_roles()
    await harness.say(AMY, "hi")
    await harness.say(SAM, "hi")
    harness.connector.clear()
    await _queue(harness, AMY, "first", "second", "third")
    await _queue(harness, SAM, "for Sam")
    harness.connector.fail(503, times=10_000)
    for _ in range(12):  # an hour, five minutes at a time
        await harness.deliver()
        harness.clock.advance(minutes=5)
    assert harness.connector.sent == []
    harness.connector.faults.clear()
    harness.clock.advance(minutes=5)
    assert await harness.deliver() == 4
    assert _said(harness.connector.to(AMY.chat_id)) == ["first", "second", "third"]
    assert _said(harness.connector.to(SAM.chat_id)) == ["for Sam"]
    assert await harness.deliver() == 0


async def test_a_recipient_gone_for_good_is_marked_failed_and_does_not_block_others(harness):
    await harness.import_roles()
    await harness.say(AMY, "hi")
    harness.connector.clear()
    await _queue(harness, AMY, "refused", "next")
    harness.connector.fail(403, times=1)
    await harness.deliver()
    rows = {
        r.activity["attachments"][0]["content"]["body"][0]["text"]: r
        for r in await harness.rows(OutboxMessage)
    }
    assert rows["refused"].status == "failed"
    assert rows["refused"].last_error == "HTTP 403"
    assert rows["next"].status == "sent"


async def test_two_senders_at_once_send_each_notification_once(harness, database_url):
    await harness.import_roles()
    await harness.say(AMY, "hi")
    harness.connector.clear()
    await _queue(harness, AMY, *[f"n{i}" for i in range(20)])
    await _queue(harness, KIM, "held")  # no conversation: must not be sent by either

    engines = [create_engine(database_url) for _ in range(2)]
    try:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            connector = TeamsConnector(http, AppCredentialsTokenSource(Settings()))
            senders = [
                OutboxSender(session_factory(e), connector, harness.clock, lease=timedelta(minutes=1))
                for e in engines
            ]

            counts = await asyncio.gather(*(s.drain() for s in senders))
    finally:
        for e in engines:
            await e.dispose()
    assert sum(counts) == 20
    assert _said(harness.connector.to(AMY.chat_id)) == [f"n{i}" for i in range(20)]
    assert harness.connector.to(KIM.chat_id) == []


async def test_a_sender_that_dies_after_claiming_loses_nothing(harness):
    await harness.import_roles()
    await harness.say(AMY, "hi")
    harness.connector.clear()
    await _queue(harness, AMY, "claimed then crashed")
    async with harness.sessions() as session:
        claimed = await outbox.claim_due(session, now=harness.clock(), lease=timedelta(minutes=2))
    assert len(claimed) == 1  # ...and the process dies here, before sending
    assert await harness.deliver() == 0  # the lease still holds: nobody else sends it yet
    harness.clock.advance(minutes=2, seconds=1)
    assert await harness.deliver() == 1
    assert _said(harness.connector.sent) == ["claimed then crashed"]


async def test_a_lease_that_runs_out_mid_sweep_does_not_send_twice(harness):
    await harness.import_roles()
    await harness.say(AMY, "hi")
    harness.connector.clear()
    await harness.say(SAM, "hi")
    harness.connector.clear()
    await _queue(harness, AMY, "one")
    await _queue(harness, SAM, "two")
    async with harness.sessions() as session:
        slow = await outbox.claim_due(session, now=harness.clock(), lease=timedelta(minutes=2))
    assert len(slow) == 2  # a slow sender holds both...
    harness.clock.advance(minutes=3)  # ...its lease runs out, and another sender sends them
    assert await harness.deliver() == 2
    # The slow sender carries on with its sweep: its claims are past their lease, so it renews
    # each before sending, finds another sender took it over, and sends nothing.
    assert await harness.outbox.deliver_claimed(slow) == 0
    assert sorted(_said(harness.connector.sent)) == ["one", "two"]


async def test_two_senders_claiming_batches_at_once_never_share_a_message(harness, database_url):
    await harness.import_roles()
    for who in (AMY, KIM, CERI, CATH):
        await _queue(harness, who, *[f"{who.name} {i}" for i in range(5)])
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        sessions = [session_factory(e) for e in engines]

        async def claim(factory) -> list[outbox.Claim]:
            async with factory() as session:
                return await outbox.claim_due(
                    session, now=harness.clock(), lease=timedelta(minutes=2), limit=100
                )

        for _ in range(5):  # racing again and again, each time after the last batch was sent
            batches = await asyncio.gather(*(claim(f) for f in sessions for _ in range(3)))
            ids = [c.id for batch in batches for c in batch]
            assert len(ids) == len(set(ids)) == 4, "each recipient's next message, to one sender only"
            async with harness.sessions() as session:
                await outbox.record(
                    session,
                    [outbox.Outcome(i, outbox.SENT, harness.clock(), conversation_id="x") for i in ids],
                )
    finally:
        for e in engines:
            await e.dispose()
    rows = await harness.rows(OutboxMessage)
    assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}


async def test_a_claim_is_renewed_before_sending_only_with_half_its_lease_or_less_left(harness, monkeypatch):
    await harness.import_roles()
    await harness.say(AMY, "hi")
    harness.connector.clear()
    renewals: list[int] = []
    renew = outbox.renew

    async def counted(session, message_id, **kwargs):
        renewals.append(message_id)
        return await renew(session, message_id, **kwargs)

    monkeypatch.setattr(outbox, "renew", counted)
    for elapsed, renewed in ((59, False), (61, True)):
        await _queue(harness, AMY, f"after {elapsed} s")
        async with harness.sessions() as session:
            claimed = await outbox.claim_due(session, now=harness.clock(), lease=timedelta(minutes=2))
        harness.clock.advance(seconds=elapsed)
        renewals.clear()
        assert await harness.outbox.deliver_claimed(claimed) == 1
        assert renewals == ([claimed[0].id] if renewed else [])
    assert _said(harness.connector.sent) == ["after 59 s", "after 61 s"]


async def test_a_failed_send_in_a_batch_marks_only_itself(harness):
    await harness.import_roles()
    for who in (AMY, SAM, CERI):
        await harness.say(who, "hi")
    harness.connector.clear()
    for who in (AMY, SAM, CERI):
        await _queue(harness, who, f"for {who.name}")
    harness.connector.fail(403, times=1)
    harness.connector.fail(503, times=1)
    assert await harness.deliver() == 1
    rows = await harness.rows(OutboxMessage, OutboxMessage.purpose == "test")  # not the keepers' notice
    assert sorted((r.status, r.last_error, r.attempts) for r in rows) == [
        ("failed", "HTTP 403", 1),
        ("pending", "HTTP 503", 1),
        ("sent", None, 1),
    ]
    (sent,) = [r for r in rows if r.status == "sent"]
    assert _said(harness.connector.sent) == [sent.activity["attachments"][0]["content"]["body"][0]["text"]]
    (waiting,) = [r for r in rows if r.status == "pending"]
    assert waiting.claimed_until is None and waiting.next_attempt_at > harness.clock()


def test_an_activity_with_an_id_of_its_own_is_not_queued():
    # Teams gives each activity its id, and an update puts the replaced one's id in front of the
    # stored text: a second id there would leave Teams to choose between them.
    with pytest.raises(ValueError, match="without an id"):
        outbox.encode({"type": "message", "id": "1:abc", "text": "Hello"})


@pytest.mark.parametrize(
    "stored",
    [outbox.encode({"type": "message", "text": "Décidé \u2028"}), '  {"type": "message"}\n', "{}"],
)
def test_an_update_puts_the_replaced_activitys_id_in_front_of_the_stored_text(stored):
    sent = with_id(stored, '1:a"b')
    assert json.loads(sent) == {**json.loads(stored), "id": '1:a"b'}
