"""Dates and times as a person in the council reads them: local time, unambiguous."""

from datetime import date, datetime
from zoneinfo import ZoneInfo


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """`Mon 23 Nov 2026, 14:30` (`Tue 1 Dec`: the day not padded), in the council's time zone."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"


def local_date(day: date) -> str:
    """As people write dates here: "Mon 8 Feb 2027", the day not padded."""
    return f"{day:%a} {day.day} {day:%b %Y}"
