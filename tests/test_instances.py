"""More than one process: several instances on one PostgreSQL, each serving, sending and sweeping,
never doubling a notification; SQLite serves one process and says so."""

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support import teams
from tests.support.connector import RecordingConnector
from tests.support.reporting import report
from tests.test_cli import _free_port, run

ROOT = Path(__file__).parents[1]
AMY = teams.Person.called("Amy Manager", "amy.manager@council.example")
REPORTERS = [teams.Person.called(f"Sam Staff {n}", f"sam.staff{n}@council.example") for n in range(6)]


def _environment(database_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MICROSOFT_", "DATABASE_", "WORKERS"))},
        "PYTHONPATH": str(ROOT),
        "RATE_LIMIT_PER_MINUTE": "0",
        "DATABASE_URL": database_url,
        # Letter links made by one instance must open on another: one key for all of them.
        "LINK_SIGNING_KEY": "k" * 40,
    }


class Instance:
    """One bot process (or gunicorn's master and workers), spoken to over HTTP."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, connector: RecordingConnector):
        self.process = process
        self.connector = connector
        self.base = f"http://127.0.0.1:{port}"
        self.url = f"{self.base}/api/messages"
        # A connection per request, so gunicorn's workers each get some.
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))

    async def post(self, activity: dict[str, Any]) -> tuple[int, Any]:
        async with self._http.post(self.url, json=activity) as response:
            body = await response.read()
            return response.status, json.loads(body) if body else None

    async def invoke(self, person: teams.Person, name: str, value: dict[str, Any]) -> tuple[int, Any]:
        return await self.post(teams.invoke(person, self.connector.url, name, value))

    async def ready(self) -> None:
        async with asyncio.timeout(30):
            while True:
                assert self.process.returncode is None, "the bot stopped before it served"
                with contextlib.suppress(aiohttp.ClientError):
                    async with self._http.get(f"{self.base}/healthz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)

    async def stop(self) -> int:
        await self._http.close()
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(20):
                    await self.process.wait()
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        return self.process.returncode  # type: ignore[return-value]


@contextlib.asynccontextmanager
async def started(
    tmp_path: Path, database_url: str, connector: RecordingConnector, *extra: str
) -> AsyncIterator[Instance]:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", "--port", str(port), *extra,
        cwd=tmp_path,
        env=_environment(database_url),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    instance = Instance(process, port, connector)
    try:
        await instance.ready()
        yield instance
    finally:
        await instance.stop()


@pytest.fixture
async def roster() -> AsyncIterator[RecordingConnector]:
    connector = RecordingConnector()
    await connector.start()
    for person in [AMY, *REPORTERS]:
        connector.roster[person.teams_id] = person.roster_entry()
    yield connector
    await connector.stop()


def _roles(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "roles.toml").write_text(teams.ROLES_TOML)
    result = run("roles", "import", "roles.toml", cwd=tmp_path, env={"DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr


async def _reported_to_amy(connector: RecordingConnector, references: list[str]) -> Counter[str]:
    """How many cards about each reference reached Amy, once the outbox has gone quiet."""

    def seen() -> Counter[str]:
        # New messages only (POST), not the updates of cards already sent.
        cards = [json.dumps(m.activity) for m in connector.to(AMY.chat_id) if m.method == "POST"]
        return Counter(ref for ref in references for card in cards if ref in card)

    deadline = time.monotonic() + 15
    while set(seen()) != set(references):
        assert time.monotonic() < deadline, f"not every report reached the manager: {seen()}"
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)  # time for a double to arrive, if one were sent
    return seen()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_instances_on_one_postgresql_serve_send_and_sweep_without_doubles(
    tmp_path, database_url, roster
):
    _roles(tmp_path, database_url)
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    async with (
        started(tmp_path, database_url, roster) as first,
        started(tmp_path, database_url, roster) as second,
    ):
        status, _ = await first.post(teams.message(AMY, roster.url, "hello"))  # the bot meets Amy
        assert status in (200, 201)
        # Reports alternate between the instances, as a load balancer would spread them; both
        # instances send the outbox and run the sweeps, each claiming what it sends.
        references = []
        for n, reporter in enumerate(REPORTERS):
            instance = (first, second)[n % 2]
            reference = await report(instance, reporter, occurred_date=yesterday)  # type: ignore[arg-type]
            assert reference.startswith("INC-"), reference
            references.append(reference)
        assert len(set(references)) == len(references)  # each its own number
        arrived = await _reported_to_amy(roster, references)
        assert all(count == 1 for count in arrived.values()), arrived
        # What one instance recorded, the other answers for: Amy's card opens on the second.
        status, _ = await second.post(teams.message(AMY, roster.url, "help"))
        assert status in (200, 201)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_serve_with_two_workers_on_postgresql_runs_them_under_gunicorn(tmp_path, database_url, roster):
    _roles(tmp_path, database_url)
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    async with started(tmp_path, database_url, roster, "--workers", "2") as bot:
        status, _ = await bot.post(teams.message(AMY, roster.url, "hello"))
        assert status in (200, 201)
        references = [await report(bot, r, occurred_date=yesterday) for r in REPORTERS[:4]]  # type: ignore[arg-type]
        arrived = await _reported_to_amy(roster, references)
        assert all(count == 1 for count in arrived.values()), arrived
        assert await bot.stop() == 0  # gunicorn stops its workers and exits cleanly


def test_serve_refuses_more_than_one_process_on_sqlite_and_says_to_use_postgresql(tmp_path):
    by_option = run("serve", "--workers", "2", cwd=tmp_path)
    by_setting = run("serve", cwd=tmp_path, env={"WORKERS": "3"})
    for result, count in ((by_option, 2), (by_setting, 3)):
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert lines == [
            f"engagement-bot: configuration error: SQLite serves one process, not {count}: for more, "
            "put the register on PostgreSQL (DATABASE_URL=postgresql+asyncpg://...)"
        ]
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_other_commands_run_beside_a_workers_setting(tmp_path):
    """WORKERS is about serving: the register's tasks still run with it set."""
    (tmp_path / "roles.toml").write_text(teams.ROLES_TOML)
    result = run("roles", "import", "roles.toml", cwd=tmp_path, env={"WORKERS": "2"})
    assert result.returncode == 0, result.stderr
