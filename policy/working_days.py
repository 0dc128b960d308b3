"""Working days: Monday to Friday, less the council's public holidays (a calendar such as the
`holidays` library gives, with the council's own local days added), and calendar months."""

from collections.abc import Collection
from datetime import date, datetime, time, timedelta


def is_working_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: date, days: int, holidays: Collection[date] = ()) -> date:
    """The date `days` working days after `start` (which itself does not count)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current, holidays):
            remaining -= 1
    return current


def working_days_between(start: date, end: date, holidays: Collection[date] = ()) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_working_day(current, holidays):
            count += 1
    return count


def in_working_hours(
    local: datetime,
    holidays: Collection[date] = (),
    *,
    opens: time = time(9, 0),
    closes: time = time(17, 0),
) -> bool:
    """Reminders go out in working hours in the council's time zone, never at 3 a.m."""
    return is_working_day(local.date(), holidays) and opens <= local.time() < closes


def add_months(start: date, months: int) -> date:
    """The same day `months` calendar months on; the month's last day where it is shorter."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    following = date(year + month // 12, month % 12 + 1, 1)
    return min(
        start.replace(year=year, month=month, day=1) + timedelta(days=start.day - 1),
        following - timedelta(days=1),
    )
