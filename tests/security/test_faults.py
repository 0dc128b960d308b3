"""Faults: the register's database gone for a moment during a submission, and the bot killed
while a notification is on its way to Teams."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy.engine import make_url

from bot.app import ENGINE, READS
from bot.handler import UNREACHABLE
from storage.models import Customer, Incident, OutboxMessage
from tests.support.connector import RecordingConnector
from tests.support.dialog import Dialog
from tests.support.harness import BotHarness
from tests.support.reporting import report, to_check
from tests.support.teams import AMY, SAM


class Outage:
    """A TCP relay in front of PostgreSQL that can refuse connections and cut open ones."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writer in list(self._open):
            writer.close()
        self._open.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._open |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def through_outage(database_url, connector, clock) -> AsyncIterator[tuple[BotHarness, Outage]]:
    url = make_url(database_url)
    outage = Outage(url.host or "127.0.0.1", url.port or 5432)
    await outage.up()
    relayed = url.set(host="127.0.0.1", port=outage.port).render_as_string(hide_password=False)
    bot = BotHarness(relayed, connector, clock)
    await bot.start()
    await bot.import_roles()
    yield bot, outage
    await bot.stop()
    with contextlib.suppress(AssertionError):
        await outage.down()


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_send_while_the_database_is_down_asks_to_retry_then_works_once_it_is_back(through_outage):
    bot, outage = through_outage
    await bot.say(SAM, "hi")
    dialog = Dialog(bot, SAM)
    await to_check(
        dialog, {"new_name": "Pat Jones", "new_address": "1 High Street", "new_postcode": "TD6 0SA"}
    )

    await outage.down()  # connection refused, and the pool's open connections cut
    assert await dialog.press("Send") is None
    assert dialog.closing_message == UNREACHABLE
    status, _ = await bot.get("/healthz")
    assert status == 503

    await outage.up()  # the same address answers again; nobody restarts the bot
    assert (await bot.get("/healthz"))[0] == 200
    assert await bot.rows(Incident) == [] and await bot.rows(Customer) == []  # nothing half-written
    assert await bot.rows(OutboxMessage) == []
    assert await dialog.press("Send") is None
    assert (dialog.closing_message or "").startswith("Reported as INC-2026-00001")
    assert len(await bot.rows(Incident)) == 1 and len(await bot.rows(Customer)) == 1


def _put_a_folder_in_place_of(path: Path, aside: Path) -> None:
    path.rename(aside)
    path.mkdir()  # SQLite cannot open a folder


def _put_back(path: Path, aside: Path) -> None:
    path.rmdir()
    aside.rename(path)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_turn_when_sqlite_cannot_be_opened_asks_to_retry_then_works_once_it_can(
    harness, database_url, tmp_path
):
    # The pool's connections are closed, and the register's file is not there to open again (a
    # disk not mounted yet, a restore half done). Staff get the clear message, not an
    # error in Teams, and the draft waits for them.
    await harness.import_roles()
    await harness.say(SAM, "hi")
    dialog = Dialog(harness, SAM)
    await to_check(
        dialog, {"new_name": "Pat Jones", "new_address": "1 High Street", "new_postcode": "TD6 0SA"}
    )
    path = Path(make_url(database_url).database or "")
    aside = tmp_path / "aside.db"
    for engine in (harness.app[ENGINE], harness.app[READS]):
        await engine.dispose()
    _put_a_folder_in_place_of(path, aside)
    try:
        assert await dialog.press("Send") is None
        assert dialog.closing_message == UNREACHABLE
        # A message turn is told the same, in the chat.
        [answer] = await harness.say(SAM, "help")
        assert answer.activity.get("text") == UNREACHABLE
    finally:
        _put_back(path, aside)
    assert await harness.rows(Incident) == []
    assert await dialog.press("Send") is None
    assert (dialog.closing_message or "").startswith("Reported as INC-2026-00001")


class SlowTeams(RecordingConnector):
    """Teams that, while `slow` is set, takes the message and never answers in time."""

    slow = False
    arrived: asyncio.Event

    async def _post(self, request: web.Request) -> web.Response:
        if self.slow:
            self.arrived.set()
            await asyncio.sleep(30)
        return await super()._post(request)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_killing_the_bot_mid_send_then_restarting_loses_and_duplicates_nothing(database_url, clock):
    connector = SlowTeams()
    connector.arrived = asyncio.Event()
    await connector.start()
    first = BotHarness(database_url, connector, clock)
    await first.start()
    await first.import_roles()
    await first.say(AMY, "hi")
    await first.say(SAM, "hi")
    connector.clear()

    connector.slow = True
    reference = await report(first, SAM)
    sending = asyncio.create_task(first.deliver())
    await asyncio.wait_for(connector.arrived.wait(), 10)
    sending.cancel()  # the process dies while the message is on the wire
    with contextlib.suppress(asyncio.CancelledError):
        await sending
    await first.stop()
    connector.slow = False
    assert connector.sent == []  # Teams never accepted it

    second = BotHarness(database_url, connector, clock)  # the bot starts again
    await second.start()
    clock.advance(minutes=5)  # the dead sender's lease runs out
    await second.deliver()
    await second.deliver()
    to_amy = [s for s in connector.to(AMY.chat_id) if s.method == "POST"]
    to_sam = [s for s in connector.to(SAM.chat_id) if s.method == "POST"]
    assert len(to_amy) == 1 and len(to_sam) == 1, "each notification arrived, once"
    assert reference in str(to_amy[0].activity)
    assert {m.status for m in await second.rows(OutboxMessage)} == {"sent"}
    await second.stop()
    await connector.stop()
