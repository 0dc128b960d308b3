"""The register keeper's reports: the annual report to committee, `stats` in Teams, and the
monthly report of who viewed which customer records."""

import asyncio
import base64
import re
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from cards.elements import Card, card, facts, heading, text
from dialogs.commands import command
from dialogs.notify import card_message
from dialogs.turn import Actor, Reply, Services
from policy.roles import Role
from reporting import annual
from storage import audit, decisions, outbox, people, statistics
from storage.models import CouncilSetting

ACCESS_REPORT_KEY = "access_report_last_month"


async def figures(services: Services, year: int) -> statistics.Figures:
    async with services.sessions() as session:
        return await statistics.year_figures(session, year, services.zone, services.holidays)


async def write_annual(services: Services, year: int, out: Path) -> list[Path]:
    found = await figures(services, year)
    previous = await figures(services, year - 1)  # for the paper's year on year comparison
    now = services.clock()
    async with services.sessions() as session:
        await audit.record(
            session, now=now, actor_id=None, action="report.annual", record_type="report", record_id=year
        )
        await session.commit()
    return await asyncio.to_thread(
        annual.write,
        found,
        out,
        council=services.letters.council_name,
        made=now.astimezone(services.zone),
        previous=previous,
    )


@command(
    r"stats",
    "stats",
    "this year's figures so far, with a chart",
    phrases=("statistics", "figures", "numbers this year"),
    button="Stats",
    allowed=lambda roles: roles.is_register_keeper,
)
async def _stats(services: Services, actor: Actor, _match: re.Match[str]) -> list[Reply]:
    today = services.today()
    year = today.year
    found = await figures(services, year)
    # The keeper's own figures, inside the register: real counts. Suppression is for papers that
    # leave it (the annual report); the months are those of the year so far.
    months = found.table("by_month")
    so_far = replace(months, rows=months.rows[: today.month])
    body = [
        heading(f"The register, {year} so far", size="Medium"),
        text(annual.period(year, services.clock().astimezone(services.zone)), subtle=True),
        facts([(k, str(v)) for k, v in found.headline.items()]),
    ]
    if found.headline["Incidents"]:
        chart = await asyncio.to_thread(annual.chart_png, so_far, suppress=False)
        body.append(
            {
                "type": "Image",
                "url": "data:image/png;base64," + base64.b64encode(chart).decode(),
                "altText": "Incidents by month, " + ", ".join(f"{m}: {n}" for m, n in so_far.rows),
            }
        )
    else:
        body.append(text("No incidents have been reported this year."))
    body.append(
        text(
            "Real counts, for the register keepers. The annual report shows counts from 1 to 4 as <5: "
            "engagement-bot report annual.",
            subtle=True,
        )
    )
    return [Reply(card=card(body), summary=f"The register, {year} so far")]


def _viewed(record_type: str, record_id: str | None) -> str:
    # A search or look-up that showed nobody is still listed: many of them are worth a question.
    return f"{record_type} {record_id}" if record_id is not None else f"{record_type} search showing nobody"


def access_card(month: str, lines: list[tuple[str, str]]) -> Card:
    return card(
        [
            heading(f"Who viewed customer records: {month}", size="Medium"),
            text(
                "Every search, look-up, full-record view, export and letter download, by person. "
                "Look for anyone viewing records they have no reason to see.",
                subtle=True,
            ),
            facts(lines) if lines else text("Nobody viewed a customer's record this month."),
        ]
    )


async def monthly_access_report(services: Services) -> int:
    """On the first working sweep of a month, tell the keepers who viewed which records last month."""
    if not services.working_hours():
        return 0
    local = services.clock().astimezone(services.zone)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    previous = (first - timedelta(days=1)).replace(day=1)
    month = f"{previous:%B %Y}"
    now = services.clock()
    # Everything is read first, in a transaction that only reads: on SQLite a transaction that
    # writes holds the writer's turn, and every report and decision would wait meanwhile.
    async with services.reading() as session:
        done = await session.get(CouncilSetting, ACCESS_REPORT_KEY)
        if done is not None and done.value == month:
            return 0
        views = (await session.execute(audit.views_between(previous, first))).all()
        per_person: Counter[int | None] = Counter(actor for actor, _, _ in views)
        records: dict[int | None, Counter[str]] = {}
        for actor, record_type, record_id in views:
            records.setdefault(actor, Counter())[_viewed(record_type, record_id)] += 1
        names = await decisions.names_of(session, [p for p in per_person if p])
        lines = []
        for person, count in per_person.most_common():
            who = names[person] if person else "command line"
            which = ", ".join(f"{record} ×{n}" for record, n in records[person].most_common(10))
            lines.append((who, f"{count} views: {which}"))
        summary = access_card(month, lines)
        keepers = [keeper.id for keeper in await people.with_role(session, Role.REGISTER_KEEPER)]
    async with services.sessions() as session:
        done = await session.get(CouncilSetting, ACCESS_REPORT_KEY)
        if done is not None and done.value == month:
            return 0  # another instance sent it meanwhile
        if done is None:
            session.add(CouncilSetting(key=ACCESS_REPORT_KEY, value=month, changed_at=now))
        else:
            done.value, done.changed_at = month, now
        try:
            await session.flush()
        except IntegrityError:  # another instance claimed this month's report first
            await session.rollback()
            return 0
        for keeper in keepers:
            outbox.enqueue(
                session,
                outbox.Recipient(person_id=keeper),
                card_message(summary, summary=f"Record views: {month}"),
                purpose="access.monthly",
                now=now,
                record_type="report",
                record_id=month,
                dedupe_key=f"access:{month}:{keeper}",
            )
        await session.commit()
    services.outbox_written()
    return 1
