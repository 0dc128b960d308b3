"""The outbox keeps to a per-conversation send limit, and turns never block the event loop."""

import asyncio
import gc
import logging

import pytest

from bot.config import ConfigError, load_settings
from bot.proactive import ConversationPace, per_worker
from storage import outbox
from tests.support.dialog import decide
from tests.support.reporting import report
from tests.support.teams import AMY, KIM, SAM


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_the_pace_keeps_every_window_per_conversation():
    time = FakeTime()
    pace = ConversationPace([(3, 1.0), (5, 10.0)], clock=time.clock, sleep=time.sleep)
    sent: list[float] = []
    for _ in range(7):
        assert await pace.wait("chat-a", longest=60) == 0
        sent.append(time.now)
    assert sent[:3] == [0.0, 0.0, 0.0]
    assert sent[3] == 1.0  # the fourth waits for the first second to pass
    assert sent[5] == 10.0  # the sixth waits for the ten-second window
    for count, seconds in ((3, 1.0), (5, 10.0)):
        assert all(sum(1 for t in sent if start <= t < start + seconds) <= count for start in sent)
    # Another conversation is not held back by this one.
    assert await pace.wait("chat-b") == 0
    assert time.now == sent[-1]


async def test_a_long_wait_is_handed_back_rather_than_slept():
    time = FakeTime()
    pace = ConversationPace([(1, 3600.0)], clock=time.clock, sleep=time.sleep)
    assert await pace.wait("chat-a") == 0
    assert await pace.wait("chat-a", longest=10) == pytest.approx(3600.0)
    assert time.slept == []


async def test_a_send_counts_from_when_teams_answered_it():
    time = FakeTime()
    pace = ConversationPace([(2, 1.0)], clock=time.clock, sleep=time.sleep)
    assert await pace.wait("chat-a") == 0
    time.now = 0.5  # the request was slow to leave: Teams may have counted it as late as this
    pace.answered("chat-a")
    assert await pace.wait("chat-a") == 0
    pace.answered("chat-a")
    assert await pace.wait("chat-a") == 0
    assert time.now == 1.5  # a second after the first was answered, not after it was begun


async def test_the_pace_keeps_the_apps_limit_across_all_conversations():
    time = FakeTime()
    pace = ConversationPace([(7, 1.0)], overall=[(3, 1.0)], clock=time.clock, sleep=time.sleep)
    sent: list[float] = []
    for n in range(7):
        assert await pace.wait(f"chat-{n}") == 0  # seven conversations, one message each
        sent.append(time.now)
    assert sent == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0]
    assert all(sum(1 for t in sent if start <= t < start + 1.0) <= 3 for start in sent)


def test_workers_on_one_machine_share_the_apps_limit():
    assert per_worker([(50, 1.0)], 1) == [(50, 1.0)]
    assert per_worker([(50, 1.0)], 4) == [(12, 1.0)]
    assert per_worker([(3, 1.0)], 8) == [(1, 1.0)]


def test_the_limit_is_configured_from_the_environment():
    assert load_settings({}).outbox_pace == ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
    assert load_settings({"OUTBOX_PER_CONVERSATION": "2/1, 10/60"}).outbox_pace == ((2, 1.0), (10, 60.0))
    assert load_settings({"OUTBOX_PER_CONVERSATION": "none"}).outbox_pace == ()
    with pytest.raises(ConfigError, match="OUTBOX_PER_CONVERSATION"):
        load_settings({"OUTBOX_PER_CONVERSATION": "fast"})
    assert load_settings({}).outbox_app_pace == ((50, 1.0),)  # Teams' per-app limit
    assert load_settings({"OUTBOX_PER_APP": "20/1"}).outbox_app_pace == ((20, 1.0),)
    assert load_settings({"OUTBOX_PER_APP": "none"}).outbox_app_pace == ()
    with pytest.raises(ConfigError, match="OUTBOX_PER_APP"):
        load_settings({"OUTBOX_PER_APP": "lots"})


async def test_the_sender_paces_one_busy_conversation_and_sends_the_rest(harness):
    await harness.import_roles()
    await harness.say(AMY, "hi")
    await harness.deliver()
    time = FakeTime()
    harness.outbox._pace = ConversationPace([(2, 60.0)], clock=time.clock, sleep=time.sleep)
    async with harness.sessions() as session:
        person = await outbox_person(session, AMY)
        for n in range(3):
            outbox.enqueue(
                session,
                outbox.Recipient(person_id=person),
                {"type": "message", "text": f"notice {n}"},
                purpose="bench",
                now=harness.clock(),
            )
        await session.commit()
    harness.connector.clear()
    await harness.deliver()
    # Two go now; the third would wait a minute, so it is queued again instead of holding a lease.
    assert [s.text for s in harness.connector.to(AMY.chat_id)] == ["notice 0", "notice 1"]
    (waiting,) = [m for m in await harness.rows(outbox.OutboxMessage) if m.status == outbox.PENDING]
    assert waiting.attempts == 0 and "paced" in (waiting.last_error or "")


async def outbox_person(session, person) -> int:
    from storage import people

    known = await people.find_by_teams_identity(
        session, teams_user_id=person.teams_id, aad_object_id=person.aad_object_id
    )
    assert known is not None
    return known.id


async def _day_of_work(harness, reporter) -> None:
    """Messages side by side, a report, its notification, a decision and its updates."""
    await asyncio.gather(*(harness.say(reporter, "help") for _ in range(10)))
    await report(harness, reporter)
    harness.connector.clear()
    await harness.deliver()
    (notice,) = [s.card for s in harness.connector.to(AMY.chat_id) if "No further action" in str(s.cards)]
    harness.connector.clear()
    await decide(harness, AMY, notice, "No further action", reasons="A one-off; apologised.")
    await harness.deliver()


async def test_turns_never_block_the_event_loop(harness, caplog):
    """asyncio's debug mode names any callback that held the loop for 250 ms or more."""
    await harness.import_roles()
    for person in (AMY, KIM, SAM):
        await harness.say(person, "hi")
    # Once through first: the first of anything compiles SQL and fills caches, which is CPU
    # work done once per process, not I/O on the loop; blocking I/O would show every time.
    await _day_of_work(harness, SAM)
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    # A quarter second: a blocking call to the network or disk shows; two busy cores shared with
    # other processes can stretch a 40 ms step past 100 ms, and that is not what this is about.
    loop.slow_callback_duration = 0.25
    caplog.set_level(logging.WARNING, logger="asyncio")
    # A full collection of this test process's heap (every earlier test's leftovers) can take
    # most of a second inside whichever callback triggers it; a serving bot freezes its own
    # start-up objects (tests/test_performance_startup.py). This test is about I/O on the loop.
    gc.collect()
    gc.disable()
    try:
        await _day_of_work(harness, KIM)
    finally:
        gc.enable()
        loop.set_debug(False)
    slow = [r.getMessage() for r in caplog.records if "took" in r.getMessage()]
    assert slow == []
