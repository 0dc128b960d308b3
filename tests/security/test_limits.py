"""Limits: the size of one request, and how many one person may send."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.app import BOT
from bot.ratelimit import SLOWED
from storage.models import AuditEvent, ReportDraft
from tests.support import teams
from tests.support.dialog import texts
from tests.support.harness import BotHarness
from tests.support.teams import AMY, SAM

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class Ticks:
    """The rate limiter's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def limited(database_url, connector, clock) -> AsyncIterator[tuple[BotHarness, Ticks]]:
    bot = BotHarness(database_url, connector, clock, rate_limit_per_minute=5)
    await bot.start()
    ticks = Ticks()
    bot.app[BOT].rate_limiter.clock = ticks
    await bot.import_roles()
    yield bot, ticks
    await bot.stop()


@SQLITE_ONLY
async def test_a_body_over_the_limit_is_refused_with_413_and_nothing_else_happens(harness):
    activity = teams.message(SAM, harness.connector.url, "report")
    big = b'{"padding": "' + b"x" * harness.settings.max_body_bytes + b'"}'
    status, body = await harness.post(None, raw=big)
    assert status == 413
    assert body == {"error": "the activity is too large"}
    # The same endpoint still takes an ordinary activity.
    activity["text"] = "help"
    status, _ = await harness.post(activity)
    assert status == 201
    assert harness.connector.sent, "the bot answered the ordinary message"


@SQLITE_ONLY
async def test_a_script_sending_thousands_of_reports_is_slowed_and_others_are_not(limited):
    bot, ticks = limited
    opened = 0
    slowed = 0
    for _ in range(300):
        status, answer = await bot.invoke(SAM, "task/fetch", {"data": {"action": "report.open"}})
        assert status == 200
        if answer["task"]["type"] == "continue":
            opened += 1
        else:
            assert answer["task"]["value"] == SLOWED
            slowed += 1
    assert (opened, slowed) == (5, 295)
    # Five turns' worth of drafts at most: the flood reached no further than the limit.
    assert len(await bot.rows(ReportDraft)) == 1  # each open offers the same unfinished draft back

    # Amy, in the same tenant at the same moment, is not slowed.
    replies = await bot.say(AMY, "help")
    assert "Help" in texts(replies[-1].card)

    # Typed commands and card buttons are slowed too, each with the message in its own shape.
    (reply,) = await bot.say(SAM, "help")
    assert reply.text == SLOWED
    value = {"action": {"type": "Action.Execute", "verb": "incident.refresh", "data": {"incident": 1}}}
    status, answer = await bot.invoke(SAM, "adaptiveCard/action", value)
    assert (status, answer["type"], answer["value"]) == (
        200,
        "application/vnd.microsoft.activity.message",
        SLOWED,
    )
    assert not [e for e in await bot.rows(AuditEvent) if e.action == "incident.viewed"]

    # A minute later the bucket has refilled at the configured rate.
    ticks.now += 12  # one turn's worth at five a minute
    (reply,) = await bot.say(SAM, "help")
    assert "Help" in texts(reply.card)
    (reply,) = await bot.say(SAM, "help")
    assert reply.text == SLOWED
    ticks.now += 60
    for _ in range(5):
        (reply,) = await bot.say(SAM, "help")
        assert reply.card is not None


@SQLITE_ONLY
@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
async def test_json_nested_beyond_reason_is_refused_with_400_not_a_fault(harness, opening):
    # 50,000 levels took the parser past Python's recursion limit: a 500, logged as a fault.
    closing = b"]" if opening == b"[" else b"}"
    for depth in (50_000, 500):
        status, body = await harness.post(None, raw=opening * depth + b"1" + closing * depth)
        assert status == 400, (depth, status, body)
    status, _ = await harness.post(teams.message(SAM, harness.connector.url, "help"))
    assert status == 201


@SQLITE_ONLY
async def test_a_body_trickled_in_is_answered_408_and_others_are_served_meanwhile(
    database_url, connector, clock
):
    bot = BotHarness(database_url, connector, clock, body_read_seconds=0.5)
    await bot.start()
    try:
        host, port = bot._server.host, bot._server.port  # type: ignore[union-attr]
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        await writer.drain()
        started = time.monotonic()
        # Someone else is answered while the slow body is held.
        status, _ = await bot.post(teams.message(SAM, connector.url, "help"))
        assert status == 201
        answer = await asyncio.wait_for(reader.readline(), timeout=5)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:40]
        assert time.monotonic() - started < 3
        writer.close()
    finally:
        await bot.stop()
