"""The review reminder schedule, and working days across weekends and bank holidays."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from policy.deciding import ReviewRules, add_months
from policy.reviews import Stage, due_now, stages
from policy.working_days import add_working_days, in_working_hours, working_days_between

CHRISTMAS = {date(2026, 12, 25), date(2026, 12, 28)}  # Friday, and the Monday in lieu of Boxing Day
LONDON = ZoneInfo("Europe/London")


def test_working_days_skip_weekends_and_bank_holidays():
    assert add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 23)  # Friday -> Monday
    assert add_working_days(date(2026, 12, 23), 3, CHRISTMAS) == date(2026, 12, 30)
    assert working_days_between(date(2026, 11, 23), date(2026, 11, 30)) == 5


def test_the_schedule_for_a_review_due_on_christmas_eve():
    assert stages(date(2026, 12, 24), CHRISTMAS) == [
        (Stage.DUE_SOON, date(2026, 12, 10)),
        (Stage.DUE, date(2026, 12, 24)),
        (Stage.OVERDUE, date(2026, 12, 31)),  # three working days, over Christmas
        (Stage.ESCALATED, date(2027, 1, 11)),
    ]


def test_only_the_latest_stage_reached_is_sent_and_the_next_is_named():
    due = date(2026, 12, 24)
    assert due_now(due, date(2026, 12, 9), None, CHRISTMAS) == (None, date(2026, 12, 10))
    assert due_now(due, date(2026, 12, 10), None, CHRISTMAS) == (Stage.DUE_SOON, date(2026, 12, 24))
    # Down from the 9th to the 28th: only "due" goes, then the overdue reminder is next.
    assert due_now(due, date(2026, 12, 29), None, CHRISTMAS) == (Stage.DUE, date(2026, 12, 31))
    assert due_now(due, date(2027, 1, 11), Stage.OVERDUE, CHRISTMAS) == (Stage.ESCALATED, None)
    assert due_now(due, date(2027, 2, 1), Stage.ESCALATED, CHRISTMAS) == (None, None)


def test_working_hours_in_the_councils_time_zone_across_summer_time():
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).astimezone(LONDON)

    assert not in_working_hours(at("2026-03-27T08:30:00+00:00"))  # Friday: 08:30 GMT, not open
    assert in_working_hours(at("2026-03-30T08:30:00+00:00"))  # Monday after the change: 09:30 BST
    assert not in_working_hours(at("2026-03-30T16:30:00+00:00"))  # 17:30 BST: closed
    assert not in_working_hours(at("2026-10-26T08:30:00+00:00"))  # after the change back: 08:30
    assert not in_working_hours(at("2026-11-28T11:00:00+00:00"))  # Saturday
    assert not in_working_hours(at("2026-12-25T11:00:00+00:00"), CHRISTMAS)
    assert not in_working_hours(at("2026-11-23T03:00:00+00:00"))  # never at 3 a.m.


def test_review_dates_default_to_six_months_and_never_exceed_twelve():
    rules = ReviewRules()
    assert rules.default_review(date(2026, 8, 31)) == date(2027, 2, 28)
    assert rules.latest_review(date(2026, 11, 23)) == date(2027, 11, 23)
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
