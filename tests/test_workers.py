"""`engagement-bot serve --workers N`: several processes on one port, one register, one outbox."""

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.workers import Worker, shared_settings
from tests.support import teams
from tests.support.connector import RecordingConnector
from tests.support.reporting import report
from tests.test_cli import _free_port, run

ROOT = Path(__file__).parents[1]
AMY = teams.Person.called("Amy Manager", "amy.manager@council.example")
# Each on a connection of its own, which the kernel gives to either worker: ten leave a chance in
# a thousand that the other worker takes none.
REPORTERS = [teams.Person.called(f"Sam Staff {n}", f"sam.staff{n}@council.example") for n in range(10)]


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _gone(pid: int) -> bool:
    """Whether a process has ended (a zombie not yet reaped has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


class Served:
    """The bot as `engagement-bot serve --workers 2` runs it, spoken to over HTTP, each request on
    a connection of its own so that the kernel spreads them over the workers."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, connector: RecordingConnector):
        self.process = process
        self.connector = connector
        self.url = f"http://127.0.0.1:{port}/api/messages"
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
        self.output: list[str] = []

    async def post(self, activity: dict[str, Any]) -> tuple[int, Any]:
        async with self._http.post(self.url, json=activity) as response:
            body = await response.read()
            return response.status, json.loads(body) if body else None

    async def invoke(self, person: teams.Person, name: str, value: dict[str, Any]) -> tuple[int, Any]:
        return await self.post(teams.invoke(person, self.connector.url, name, value))

    async def close(self) -> None:
        await self._http.close()


@contextlib.asynccontextmanager
async def served(tmp_path: Path, connector: RecordingConnector) -> AsyncIterator[Served]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MICROSOFT_", "DATABASE_"))},
        "PYTHONPATH": str(ROOT),
        "RATE_LIMIT_PER_MINUTE": "0",
    }
    (tmp_path / "roles.toml").write_text(teams.ROLES_TOML)
    assert run("roles", "import", "roles.toml", cwd=tmp_path).returncode == 0
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        "--workers",
        "2",
        "--port",
        str(port),
        cwd=tmp_path,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    bot = Served(process, port, connector)
    try:
        async with asyncio.timeout(30):
            while True:  # "listening" is logged once every worker listens
                line = await process.stdout.readline()  # type: ignore[union-attr]
                assert line, "serve stopped before it listened"
                bot.output.append(line.decode())
                if '"listening"' in bot.output[-1]:
                    break
        yield bot
    finally:
        await bot.close()
        if process.returncode is None:
            process.terminate()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(20):
                    await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.fixture
async def connector() -> AsyncIterator[RecordingConnector]:
    connector = RecordingConnector()
    await connector.start()
    for person in [AMY, *REPORTERS]:
        connector.roster[person.teams_id] = person.roster_entry()
    yield connector
    await connector.stop()


async def test_two_workers_share_the_port_and_a_report_to_either_reaches_the_manager_at_once(
    tmp_path, connector
):
    async with served(tmp_path, connector) as bot:
        workers = _children(bot.process.pid)
        assert len(workers) == 2
        status, _ = await bot.post(teams.message(AMY, connector.url, "hello"))  # the bot meets Amy
        assert status in (200, 201)
        yesterday = (date.today() - timedelta(days=1)).isoformat()
        for n, reporter in enumerate(REPORTERS):
            sent = len(connector.to(AMY.chat_id))
            reference = await report(bot, reporter, occurred_date=yesterday)  # type: ignore[arg-type]
            assert reference.startswith("INC-"), reference
            # Only the first worker sends the outbox. The outbox sender's sweep is five seconds
            # apart: a report taken by the other worker arrives at once only if it woke it.
            deadline = time.monotonic() + 2
            while len(connector.to(AMY.chat_id)) == sent:
                assert time.monotonic() < deadline, f"report {n} did not reach the manager within 2 s"
                await asyncio.sleep(0.05)
            assert reference in json.dumps(connector.to(AMY.chat_id)[-1].activity)
        assert _children(bot.process.pid) == workers  # no worker was lost on the way

        bot.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await bot.process.wait() == 0
        assert all(_gone(pid) for pid in workers)


async def test_a_worker_that_dies_stops_the_bot_so_its_service_manager_starts_it_whole(tmp_path, connector):
    async with served(tmp_path, connector) as bot:
        first, second = _children(bot.process.pid)
        os.kill(second, signal.SIGKILL)
        async with asyncio.timeout(20):
            assert await bot.process.wait() == 1
        output = (await bot.process.stdout.read()).decode()  # type: ignore[union-attr]
        assert "a worker stopped unexpectedly; stopping the others" in output
        assert _gone(first)


def test_more_than_one_worker_needs_the_register_on_disk():
    with pytest.raises(ConfigError, match="more than one worker needs the register on disk"):
        load_settings({"WORKERS": "2", "DATABASE_URL": "sqlite+aiosqlite:///:memory:"})
    assert load_settings({"WORKERS": "2"}).workers == 2
    with pytest.raises(ConfigError, match="WORKERS must be between 1 and 64"):
        load_settings({"WORKERS": "0"})


def test_more_than_one_worker_needs_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")  # no pipe2, and SO_REUSEPORT does not share
    with pytest.raises(ConfigError, match="more than one worker needs Linux"):
        load_settings({"WORKERS": "2"})
    assert load_settings({"WORKERS": "1"}).workers == 1


def test_serve_refuses_workers_for_an_in_memory_register(tmp_path):
    result = run(
        "serve", "--workers", "2", cwd=tmp_path, env={"DATABASE_URL": "sqlite+aiosqlite:///:memory:"}
    )
    assert result.returncode == 2
    assert "more than one worker needs the register on disk" in result.stderr


def test_letter_links_made_by_one_worker_open_on_another():
    """Without an app password each process would sign with a random key of its own."""
    local = shared_settings(Settings())
    assert len(local.link_signing_key) >= 32
    assert shared_settings(local) == local  # made once, before the workers part
    assert shared_settings(Settings(app_id="a", app_password="p")).link_signing_key == ""  # derived


async def test_the_first_worker_is_woken_through_its_pipe_and_a_full_pipe_never_blocks():
    reader, writer = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        first, other = Worker(0, reader, writer), Worker(1, reader, writer)
        kicked = asyncio.Event()
        stop = first.on_wake(kicked.set)
        try:
            for _ in range(100_000):  # far more than a pipe holds
                other.wake_primary()
            async with asyncio.timeout(2):
                await kicked.wait()
            kicked.clear()
            await asyncio.sleep(0.05)
            assert not kicked.is_set()  # the pipe was read empty: no wake-ups left over
            other.wake_primary()
            async with asyncio.timeout(2):
                await kicked.wait()
        finally:
            stop()
        assert first.primary and not other.primary
    finally:
        os.close(reader)
        os.close(writer)


async def test_a_second_bot_on_the_same_port_is_refused_rather_than_sharing_it(tmp_path, connector):
    """SO_REUSEPORT would let another copy (a test register, say) take a share of the requests."""
    (tmp_path / "first").mkdir()
    async with served(tmp_path / "first", connector) as bot:
        port = bot.url.split(":")[2].split("/")[0]
        second = tmp_path / "second"
        second.mkdir()
        result = await asyncio.to_thread(
            run, "serve", "--workers", "2", "--port", port, cwd=second, env={"RATE_LIMIT_PER_MINUTE": "0"}
        )
        assert result.returncode == 1
        assert '"cannot listen"' in result.stderr
        assert '"listening"' not in result.stderr
        status, _ = await bot.post(teams.message(AMY, connector.url, "hello"))
        assert status in (200, 201)  # and the first serves on
