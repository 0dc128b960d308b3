"""How fast the report dialog answers Teams, with a register of 10,000 customers.

Teams waits five seconds for an invoke's answer. This walks the report dialog through the real
HTTP endpoint (search, each step, send) many times and prints the time per answer: median,
95th percentile and worst, per kind of step.

    .venv/bin/python bench/dialog.py [--customers N] [--walks N]
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Customer
from tests.support.clock import FakeClock
from tests.support.connector import RecordingConnector
from tests.support.dialog import Dialog
from tests.support.harness import BotHarness
from tests.support.reporting import ACTION, BEHAVIOUR, WHAT
from tests.support.teams import SAM, TENANT_ID

SURNAMES = ("Jones", "Smith", "Taylor", "Brown", "Wilson", "Campbell", "Stewart", "Thomson", "Robertson")


async def fill(url: str, customers: int) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    now = datetime.now(UTC)
    rows = [
        {
            "name": f"Customer{i} {SURNAMES[i % len(SURNAMES)]}",
            "customer_reference": f"CUS-{i:06d}",
            "postcode": f"TD{i % 15} {i % 9}SA",
            "email": f"c{i}@mail.example",
            "created_at": now,
        }
        for i in range(customers)
    ]
    async with session_factory(engine)() as session:
        await session.execute(insert(Customer), rows)
        await session.commit()
    await engine.dispose()


class Timed(Dialog):
    """A dialog that notes how long each answer took, by step and button."""

    timings: ClassVar[dict[str, list[float]]] = defaultdict(list)

    async def send(self, data):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        answer = await super().send(data)
        self.timings[f"{data.get('step')}:{data.get('go')}"].append((time.perf_counter() - started) * 1000)
        return answer

    async def open(self, data=None, message=None):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        card = await super().open(data, message)
        self.timings["open"].append((time.perf_counter() - started) * 1000)
        return card


async def walk(bot: BotHarness, n: int) -> None:
    dialog = Timed(bot, SAM)
    await dialog.open()
    await dialog.press("Search", customer_query=f"jnes CUS-{n * 37 % 10000:06d}")
    await dialog.press("Next", customer_id="new", new_name=f"New Person {n}")
    await dialog.press("Next", **{**WHAT, "service_area": "housing"})
    await dialog.press("Next", **BEHAVIOUR)
    await dialog.press("Next", **ACTION)
    await dialog.press("Send")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--walks", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'register.db'}"
        await fill(url, args.customers)
        connector = RecordingConnector()
        await connector.start()
        bot = BotHarness(
            url, connector, FakeClock(datetime(2026, 11, 23, 10, tzinfo=UTC)), tenant_id=TENANT_ID
        )
        await bot.start()
        await bot.import_roles('[service_areas.housing]\nname = "Housing"\nmanagers = []\n')
        await bot.say(SAM, "hi")
        for n in range(args.walks):
            await walk(bot, n)
        await bot.stop()
        await connector.stop()
    print(f"report dialog, {args.customers:,} customers, {args.walks} walks (Teams allows 5,000 ms):")
    for step, times in Timed.timings.items():
        ordered = sorted(times)
        p95 = ordered[max(0, int(0.95 * len(ordered)) - 1)]
        print(
            f"  {step:<16} median {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   "
            f"worst {ordered[-1]:7.1f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
