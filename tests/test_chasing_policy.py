"""The chase's pure rules: when the managers, then the keepers, are chased."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, load_settings
from policy.chasing import ChaseRules, ChaseStage, due_now, schedule, waited
from policy.deciding import warned_on

LONDON = ZoneInfo("Europe/London")
FRIDAY_4PM = datetime(2026, 12, 18, 16, 0, tzinfo=UTC)


def test_category_one_is_chased_in_hours_through_the_weekend():
    assert schedule(FRIDAY_4PM, True, ChaseRules(), LONDON) == [
        (ChaseStage.MANAGERS, datetime(2026, 12, 18, 18, 0, tzinfo=UTC)),
        (ChaseStage.KEEPERS, datetime(2026, 12, 18, 20, 0, tzinfo=UTC)),
    ]


def test_other_categories_are_chased_in_working_days_past_weekends_and_holidays():
    christmas = {date(2026, 12, 25), date(2026, 12, 28)}
    stages = schedule(FRIDAY_4PM, False, ChaseRules(), LONDON, christmas)
    assert [when.date() for _, when in stages] == [date(2026, 12, 22), date(2026, 12, 29)]


def test_a_missed_stage_is_not_sent_late_as_well_and_keepers_are_told_again():
    rules = ChaseRules()
    late = datetime(2026, 12, 19, 9, 0, tzinfo=UTC)
    stage, again = due_now(FRIDAY_4PM, True, None, late, rules, LONDON)
    assert (stage, again) == (ChaseStage.KEEPERS, datetime(2026, 12, 20, 9, 0, tzinfo=UTC))
    stage, upcoming = due_now(FRIDAY_4PM, True, None, FRIDAY_4PM, rules, LONDON)
    assert (stage, upcoming) == (None, datetime(2026, 12, 18, 18, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("raw", "ok"), [("2,4", (2, 4)), ("", (3, 9)), ("4,2", None), ("2", None), ("a,b", None)]
)
def test_the_settings_are_two_rising_numbers(raw, ok):
    if ok is None:
        with pytest.raises(ValueError):
            ChaseRules.parse(raw, (3, 9))
    else:
        assert ChaseRules.parse(raw, (3, 9)) == ok


def test_waiting_is_said_in_hours_then_days():
    assert waited(FRIDAY_4PM, datetime(2026, 12, 18, 16, 30, tzinfo=UTC)) == "less than an hour"
    assert waited(FRIDAY_4PM, datetime(2026, 12, 19, 3, 0, tzinfo=UTC)) == "11 hours"
    assert waited(FRIDAY_4PM, datetime(2026, 12, 22, 16, 0, tzinfo=UTC)) == "4 days"


def test_only_a_recent_explanation_of_what_may_follow_is_a_warning():
    today = date(2027, 6, 1)
    assert warned_on([("discussed_behaviour", date(2027, 5, 1))], today) is None
    assert warned_on([("explained_consequences", date(2026, 6, 1))], today) == date(2026, 6, 1)
    assert warned_on([("explained_consequences", date(2026, 5, 31))], today) is None
    assert warned_on([("explained_consequences", date(2027, 1, 1))], today, window_months=3) is None


def test_the_chase_and_warning_settings_are_read_and_checked_at_start():
    settings = load_settings(
        {"UNDECIDED_CATEGORY_ONE_HOURS": "1,3", "UNDECIDED_WORKING_DAYS": "1,4", "WARNING_WINDOW_MONTHS": "6"}
    )
    assert (settings.undecided_category_one_hours, settings.undecided_working_days) == ((1, 3), (1, 4))
    assert (settings.warning_window_months, settings.no_review_oversight_months) == (6, 12)
    with pytest.raises(ConfigError, match="UNDECIDED_WORKING_DAYS must be two whole numbers"):
        load_settings({"UNDECIDED_WORKING_DAYS": "5,2"})
    with pytest.raises(ConfigError, match="NO_REVIEW_OVERSIGHT_MONTHS must be between 1 and 12"):
        load_settings({"NO_REVIEW_OVERSIGHT_MONTHS": "24"})
