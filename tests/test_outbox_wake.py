"""The outbox sender is woken once for a burst of writes, not once per write."""

import asyncio

from bot.app import coalesced


async def test_a_burst_of_writes_wakes_the_sender_once_and_a_later_write_again():
    kicks: list[None] = []
    written = coalesced(lambda: kicks.append(None), delay=0)
    for _ in range(5):
        written()
    assert kicks == []  # not while the invokes that wrote are still running
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(kicks) == 1
    written()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(kicks) == 2
