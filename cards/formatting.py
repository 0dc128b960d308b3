"""Dates and times as a person in the council reads them: local time, unambiguous."""

from datetime import date, datetime
from zoneinfo import ZoneInfo


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """`Mon 23 Nov 2026, 14:30`, in the council's time zone."""
    return moment.astimezone(zone).strftime("%a %d %b %Y, %H:%M")


def local_date(day: date) -> str:
    return day.strftime("%a %d %b %Y")
