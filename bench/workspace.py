"""How fast the workspace tab's pages answer on a large register (issue 29: p95 under 300 ms with
100,000 customers and 300,000 incidents).

Fills a SQLite register with 100,000 customers, 300,000 incidents over three years in four
services, their decisions, restrictions, reviews due, appeals and letters; starts the bot as
`engagement-bot serve` would (no app id: people are signed in by choosing, from this machine);
then asks each page in turn, as each role opens it, and prints p50, p95 and the slowest per page.

    .venv/bin/python bench/workspace.py [--customers N] [--incidents N] [--rounds N]
"""

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import web

from bot.app import create_app
from bot.config import Settings
from storage.db import create_engine
from storage.migrate import upgrade

NOW = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)  # a Thursday
AREAS = ("housing", "waste", "revenues", "planning")
SURNAMES = (
    "Jones", "Smith", "Taylor", "Brown", "Wilson", "Evans", "Thomas", "Roberts", "Walker", "Wright",
    "Hughes", "Edwards", "Green", "Hall", "Wood", "Harris", "Lewis", "Martin", "Jackson", "Clarke",
)  # fmt: skip
GIVEN = ("Pat", "Sam", "Alex", "Jo", "Chris", "Robin", "Jordan", "Morgan", "Casey", "Jamie", "Ali", "Kit")
# People: 1 keeper, a manager per service (2..5), 200 staff who report (6..205), the review group.
KEEPER, MANAGER, FIRST_STAFF, STAFF, PANEL = 1, 2, 6, 200, 206


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def fill(path: Path, customers: int, incidents: int, seed: int = 29) -> None:
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    now = _stamp(NOW)
    db.executemany(
        "INSERT INTO service_areas (id, key, name) VALUES (?, ?, ?)",
        [(i + 1, key, key.title()) for i, key in enumerate(AREAS)],
    )
    people = [(KEEPER, "kim.keeper@council.example", "Kim Keeper")]
    people += [
        (MANAGER + i, f"{a}.manager@council.example", f"{a.title()} Manager") for i, a in enumerate(AREAS)
    ]
    people += [(FIRST_STAFF + i, f"staff{i}@council.example", f"Staff {i}") for i in range(STAFF)]
    people.append((PANEL, "ceri.panel@council.example", "Ceri Panel"))
    db.executemany(
        "INSERT INTO people (id, email, display_name, guest, created_at, updated_at) "
        "VALUES (?, ?, ?, 0, ?, ?)",
        [(*p, now, now) for p in people],
    )
    roles = [(KEEPER, "register_keeper", None), (PANEL, "complaints_review_group", None)]
    roles += [(MANAGER + i, "manager", i + 1) for i in range(len(AREAS))]
    db.executemany("INSERT INTO role_assignments (person_id, role, service_area_id) VALUES (?, ?, ?)", roles)
    db.executemany(
        "INSERT INTO customers (id, customer_reference, name, email, postcode, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            (
                i,
                f"C{i:07d}",
                f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)}",
                f"customer{i}@mail.example",
                f"TD{i % 15} {i % 10}{chr(65 + i % 26)}{chr(65 + (i // 26) % 26)}",
                now,
            )
            for i in range(1, customers + 1)
        ),
    )
    start = NOW - timedelta(days=3 * 365)
    span = int((NOW - start).total_seconds())
    rows, decisions, restrictions, letters, appeals = [], [], [], [], []
    per_year: dict[int, int] = {}
    moments = sorted(start + timedelta(seconds=rng.randrange(span)) for _ in range(incidents))
    for number, occurred in enumerate(moments, start=1):
        year = occurred.year
        per_year[year] = per_year.get(year, 0) + 1
        area = rng.randrange(len(AREAS)) + 1
        recent = (NOW - occurred).days < 20
        status = "reported" if recent and rng.random() < 0.5 else "decided"
        rows.append(
            (
                number, f"INC-{year}-{per_year[year]:05d}", year, per_year[year],
                rng.randrange(1, customers + 1), FIRST_STAFF + rng.randrange(STAFF), area,
                _stamp(occurred), _stamp(occurred + timedelta(hours=1)), "phone",
                rng.choice(("one", "two", "three", "four")), "[]", "Shouted at staff.", "[]", status,
            )
        )  # fmt: skip
        if status == "decided" and rng.random() < 0.3:
            decided = occurred + timedelta(days=2)
            kind = "active_management" if rng.random() < 0.5 else "no_further_action"
            decisions.append((len(decisions) + 1, number, kind, MANAGER + area - 1, _stamp(decided)))
            if kind == "active_management":
                due = (decided + timedelta(days=182)).date()
                active = due > NOW.date() - timedelta(days=30)
                restrictions.append(
                    (
                        len(restrictions) + 1, len(decisions), rows[-1][4], area,
                        decided.date().isoformat(), due.isoformat() if rng.random() < 0.95 else None,
                        MANAGER + area - 1, "active" if active else "expired",
                    )
                )  # fmt: skip
                letters.append((len(letters) + 1, rows[-1][4], len(decisions), _stamp(decided), recent))
                if active and rng.random() < 0.05:
                    appeals.append(
                        (
                            len(appeals) + 1,
                            number,
                            len(decisions),
                            decided.date().isoformat(),
                            _stamp(decided),
                        )
                    )
    db.executemany(
        """INSERT INTO incidents (id, reference, year, sequence, customer_id, reporter_id, service_area_id,
            occurred_at, reported_at, channel, category, behaviours, description, others_affected,
            ended_contact, left_premises, police_called, physical_violence, weapon_or_animal,
            reporter_wants_support, urgent, status)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 0, 0, ?)""",
        rows,
    )
    db.executemany(
        """INSERT INTO decisions (id, incident_id, kind, deciding_body, decided_by_id, decided_at, reasons,
            without_prior_warning) VALUES (?, ?, ?, 'manager', ?, ?, 'Proportionate to what happened.', 0)""",
        decisions,
    )
    db.executemany(
        """INSERT INTO restrictions (id, decision_id, customer_id, service_area_id, type, details, scope,
            frontline_instructions, starts_on, review_due_on, no_review_reason, reviewer_id, status)
            VALUES (?, ?, ?, ?, 'contact_channels', 'Email only.', 'service', 'Ask them to email.', ?, ?,
            'The matter is closed.', ?, ?)""",
        restrictions,
    )
    db.executemany(
        """INSERT INTO letters (id, kind, customer_id, decision_id, produced_at, produced_by_id, sent_on)
            VALUES (?, 'decision', ?, ?, ?, 2, CASE WHEN ? THEN NULL ELSE '2026-01-01' END)""",
        letters,
    )
    db.executemany(
        """INSERT INTO appeals (id, incident_id, against, decision_id, route, received_on, grounds, late,
            logged_by_id, logged_at, status) VALUES (?, ?, 'decision', ?, 'complaints_review_group', ?,
            'Unfair.', 0, 1, ?, 'open')""",
        appeals,
    )
    db.commit()
    db.close()


async def _time(http: aiohttp.ClientSession, base: str, path: str, person: int) -> float:
    started = time.perf_counter()
    async with http.get(base + path, headers={"Authorization": f"Local {person}"}) as response:
        await response.read()
        assert response.status == 200, (path, response.status)
    return (time.perf_counter() - started) * 1000


async def measure(
    database_url: str, rounds: int, cases: list[tuple[int, int]]
) -> list[tuple[str, list[float]]]:
    """Each page `rounds` times; `cases`: (incident, customer) to open records and incidents of."""
    settings = Settings(database_url=database_url, rate_limit_per_minute=0, log_level="WARNING")
    app = create_app(settings, clock=lambda: NOW, run_background=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}/tab/api"
    pages = [
        ("staff home", "/home", FIRST_STAFF),
        ("manager home", "/home", MANAGER),
        ("keeper home", "/home", KEEPER),
        ("review group home", "/home", PANEL),
        ("undecided queue", "/queue/undecided", KEEPER),
        ("register, newest", "/register", KEEPER),
        ("register, a name", "/register?q=jordan+jones", KEEPER),
        ("register, a postcode", "/register?q=TD3+3DD", KEEPER),
        ("register, a reference", "/register?q=INC-2026-00042", KEEPER),
        ("register, filters", "/register?service=waste&category=two&state=decided&since=2025-01-01", KEEPER),
        ("register, manager's part", "/register?q=smith", MANAGER),
        ("customer record", "/customer/{customer}", KEEPER),
        ("incident page", "/incident/{incident}", KEEPER),
    ]
    rng = random.Random(1)
    timings: dict[str, list[float]] = {name: [] for name, _, _ in pages}
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(2):  # warm: the first request of each kind builds SQLAlchemy's cached statements
                for _name, path, person in pages:
                    await _time(http, base, path.format(customer=cases[0][1], incident=cases[0][0]), person)
            for _ in range(rounds):
                for name, path, person in pages:
                    incident, customer = rng.choice(cases)
                    filled = path.format(customer=customer, incident=incident)
                    timings[name].append(await _time(http, base, filled, person))
    finally:
        await runner.cleanup()
    return list(timings.items())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--incidents", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "register.db"
        url = f"sqlite+aiosqlite:///{path}"

        async def migrate() -> None:
            engine = create_engine(url)
            await upgrade(engine)
            await engine.dispose()

        asyncio.run(migrate())
        started = time.perf_counter()
        fill(path, args.customers, args.incidents)
        print(
            f"register: {args.customers:,} customers, {args.incidents:,} incidents "
            f"(filled in {time.perf_counter() - started:.0f} s); "
            f"{args.rounds} requests per page, one at a time"
        )
        with sqlite3.connect(path) as db:
            cases = db.execute("SELECT id, customer_id FROM incidents ORDER BY random() LIMIT 500").fetchall()
        results = asyncio.run(measure(url, args.rounds, cases))
    print(f"{'page':<28}{'p50':>9}{'p95':>9}{'max':>9}")
    worst = 0.0
    for name, ms in results:
        ordered = sorted(ms)
        p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
        worst = max(worst, p95)
        print(f"{name:<28}{statistics.median(ordered):>7.0f}ms{p95:>7.0f}ms{ordered[-1]:>7.0f}ms")
    print(f"slowest p95: {worst:.0f} ms (target: under 300 ms)")


if __name__ == "__main__":
    main()
