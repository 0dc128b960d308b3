"""Reports waiting for a reference number are served in the order they asked, on PostgreSQL too."""

import asyncio

import pytest

from storage.incidents import next_reference


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_reports_waiting_for_a_number_get_them_in_the_order_they_asked(sessions):
    first = sessions()
    await next_reference(first, 2026)  # holds the counter until it commits
    issued: list[tuple[int, int]] = []

    async def report(n: int) -> None:
        async with sessions() as session:
            sequence, _ = await next_reference(session, 2026)
            issued.append((n, sequence))
            await session.commit()

    waiting = []
    for n in range(8):
        waiting.append(asyncio.create_task(report(n)))
        await asyncio.sleep(0.05)  # each is queued before the next asks
    await first.commit()
    await first.close()
    await asyncio.gather(*waiting)
    # Without the queue PostgreSQL woke them all at once and the race decided.
    assert issued == [(n, n + 2) for n in range(8)]
