"""When an undecided incident is chased: the service's managers again, then the register keepers.

Category one (threats, violence, abuse) is chased in hours, whenever they fall: a threat does not
wait for Monday. Other categories are chased in working days, and the sweep sends those in working
hours only. Once the keepers have been told, they are told again at an interval (a day for category
one, a working week otherwise) until a decision is recorded: nothing waits unseen.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from policy.working_days import add_working_days


class ChaseStage(StrEnum):
    MANAGERS = "managers"  # the service's managers, again
    KEEPERS = "keepers"  # the register keepers (and again, at the interval)


@dataclass(frozen=True)
class ChaseRules:
    """`category_one_hours`: hours after the report that the managers, then the keepers, are
    chased for a category-one incident; `working_days`: the same in working days for the others."""

    category_one_hours: tuple[int, int] = (2, 4)
    working_days: tuple[int, int] = (2, 5)
    category_one_again_hours: int = 24
    again_working_days: int = 5

    @staticmethod
    def parse(raw: str, default: tuple[int, int]) -> tuple[int, int]:
        """`2,4`: managers after the first, keepers after the second. ValueError if malformed."""
        if not raw.strip():
            return default
        parts = [p.strip() for p in raw.split(",")]
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(raw)
        first, second = int(parts[0]), int(parts[1])
        if not 0 < first < second:
            raise ValueError(raw)
        return first, second


def _after_working_days(
    reported: datetime, days: int, zone: ZoneInfo, holidays: Collection[date]
) -> datetime:
    """The same local time of day, `days` working days after the report."""
    local = reported.astimezone(zone)
    day = add_working_days(local.date(), days, holidays)
    return datetime.combine(day, local.time(), tzinfo=zone)


def schedule(
    reported_at: datetime,
    urgent: bool,
    rules: ChaseRules,
    zone: ZoneInfo,
    holidays: Collection[date] = (),
) -> list[tuple[ChaseStage, datetime]]:
    """The first two chases of an incident reported at `reported_at`."""
    if urgent:
        managers, keepers = rules.category_one_hours
        return [
            (ChaseStage.MANAGERS, reported_at + timedelta(hours=managers)),
            (ChaseStage.KEEPERS, reported_at + timedelta(hours=keepers)),
        ]
    managers, keepers = rules.working_days
    return [
        (ChaseStage.MANAGERS, _after_working_days(reported_at, managers, zone, holidays)),
        (ChaseStage.KEEPERS, _after_working_days(reported_at, keepers, zone, holidays)),
    ]


def first_chase(
    reported_at: datetime, urgent: bool, rules: ChaseRules, zone: ZoneInfo, holidays: Collection[date] = ()
) -> datetime:
    return schedule(reported_at, urgent, rules, zone, holidays)[0][1]


def due_now(
    reported_at: datetime,
    urgent: bool,
    sent: ChaseStage | None,
    now: datetime,
    rules: ChaseRules,
    zone: ZoneInfo,
    holidays: Collection[date] = (),
) -> tuple[ChaseStage | None, datetime]:
    """The chase to send now (the latest reached: one missed while the bot was down is not sent as
    well), and when to look again. The keepers are told again at the interval until decided."""
    stages = schedule(reported_at, urgent, rules, zone, holidays)
    if sent is ChaseStage.KEEPERS:
        return ChaseStage.KEEPERS, _again(now, urgent, rules, zone, holidays)
    done = -1 if sent is None else 0
    reached = [i for i, (_, when) in enumerate(stages) if when <= now and i > done]
    if not reached:
        return None, stages[done + 1][1]
    stage = stages[reached[-1]][0]
    if stage is ChaseStage.KEEPERS:
        return stage, _again(now, urgent, rules, zone, holidays)
    return stage, stages[1][1]


def _again(
    now: datetime, urgent: bool, rules: ChaseRules, zone: ZoneInfo, holidays: Collection[date]
) -> datetime:
    if urgent:
        return now + timedelta(hours=rules.category_one_again_hours)
    return _after_working_days(now, rules.again_working_days, zone, holidays)


def waited(reported_at: datetime, now: datetime) -> str:
    """How long an incident has waited for a decision, in words a card can show."""
    seconds = max(0, (now - reported_at).total_seconds())
    hours = int(seconds // 3600)
    if hours < 1:
        return "less than an hour"
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    days = hours // 24
    return f"{days} days"
