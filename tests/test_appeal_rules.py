"""The pure rules of appeals: each decision's route and clock, under the council's calendar."""

from datetime import date

import pytest

from bot.config import ConfigError, council_calendar, load_settings
from policy.appeals import (
    Appealable,
    Clock,
    Hearing,
    NotHeard,
    Taken,
    appeal_by,
    hearing_for,
    outcome_words,
    respond_by,
)
from policy.decisions import AppealOutcome, AppealRoute, DecidingBody
from policy.working_days import add_months

SCOTLAND = council_calendar("GB-SCT")
CLOCK = Clock(holidays=SCOTLAND)


def test_a_letter_dated_6_december_2026_gives_until_7_january_under_scotlands_holidays():
    # Christmas (Fri 25), Boxing Day observed (Mon 28), New Year's Day (Fri 1), 2 January observed
    # (Mon 4): without them the letter would have said 1 January, itself a holiday.
    assert appeal_by(date(2026, 12, 6), CLOCK) == date(2027, 1, 7)
    assert appeal_by(date(2026, 12, 6), Clock()) == date(2027, 1, 1)


def test_the_councils_own_days_are_added_to_the_public_holidays():
    local = council_calendar("GB-SCT", [date(2027, 9, 27)])  # a local autumn holiday
    assert date(2027, 9, 27) in local and date(2027, 1, 1) in local
    assert date(2027, 9, 27) not in SCOTLAND
    assert council_calendar("none", [date(2027, 9, 27)]) == frozenset({date(2027, 9, 27)})


def test_the_calendar_is_a_setting_and_a_wrong_one_is_refused():
    assert date(2026, 11, 30) in load_settings({}).calendar()  # St Andrew's Day, by default
    assert date(2026, 11, 30) not in load_settings({"PUBLIC_HOLIDAYS": "GB-ENG"}).calendar()
    with pytest.raises(ConfigError, match="PUBLIC_HOLIDAYS must be a country or region code"):
        load_settings({"PUBLIC_HOLIDAYS": "XX-NOPE"})


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        # An employee's immediate action: the complaints procedure, six months to complain.
        (
            Taken(Appealable.IMMEDIATE_ACTION, DecidingBody.EMPLOYEE, date(2026, 11, 23)),
            Hearing(AppealRoute.COMPLAINTS_PROCEDURE, date(2027, 5, 23), 1),
        ),
        # An elected member's, as they held that capacity when they acted: not appealable.
        (
            Taken(Appealable.IMMEDIATE_ACTION, DecidingBody.ELECTED_MEMBER, date(2026, 11, 23)),
            NotHeard.ELECTED_MEMBER,
        ),
        # A manager's decision, counted from its letter (sent 1 December): the review group.
        (
            Taken(Appealable.DECISION, DecidingBody.MANAGER, date(2026, 11, 23), date(2026, 12, 1)),
            Hearing(AppealRoute.COMPLAINTS_REVIEW_GROUP, date(2026, 12, 31)),
        ),
        # Until the letter goes, from the day the decision was taken (St Andrew's Day inside).
        (
            Taken(Appealable.DECISION, DecidingBody.MANAGER, date(2026, 11, 23)),
            Hearing(AppealRoute.COMPLAINTS_REVIEW_GROUP, date(2026, 12, 22)),
        ),
        # A review's variation and a reinstatement are a manager's new decisions: the group again,
        # on their own letters' clocks (the Spring Bank Holiday inside).
        (
            Taken(Appealable.VARIATION, DecidingBody.MANAGER, date(2027, 5, 20), date(2027, 5, 24)),
            Hearing(AppealRoute.COMPLAINTS_REVIEW_GROUP, date(2027, 6, 22)),
        ),
        (
            Taken(Appealable.REINSTATEMENT, DecidingBody.MANAGER, date(2027, 12, 1)),
            Hearing(AppealRoute.COMPLAINTS_REVIEW_GROUP, date(2027, 12, 31)),
        ),
        # The group's decision goes to the Chief Executive; the Chief Executive's, nowhere here.
        (
            Taken(Appealable.APPEAL_OUTCOME, DecidingBody.COMPLAINTS_REVIEW_GROUP, date(2027, 1, 11)),
            Hearing(AppealRoute.CHIEF_EXECUTIVE, date(2027, 2, 8)),
        ),
        (
            Taken(Appealable.APPEAL_OUTCOME, DecidingBody.CHIEF_EXECUTIVE, date(2027, 2, 1)),
            NotHeard.CHIEF_EXECUTIVE,
        ),
        # Stage 1's response: Stage 2 within six months of the action, or two of the response if later.
        (
            Taken(
                Appealable.COMPLAINT_RESPONSE,
                DecidingBody.COMPLAINTS_TEAM,
                date(2027, 5, 1),
                date(2027, 5, 3),
                stage=1,
                action_on=date(2026, 11, 23),
            ),
            Hearing(AppealRoute.COMPLAINTS_PROCEDURE, date(2027, 7, 3), 2),
        ),
        (
            Taken(
                Appealable.COMPLAINT_RESPONSE,
                DecidingBody.COMPLAINTS_TEAM,
                date(2027, 1, 11),
                stage=1,
                action_on=date(2026, 11, 23),
            ),
            Hearing(AppealRoute.COMPLAINTS_PROCEDURE, date(2027, 5, 23), 2),
        ),
        (
            Taken(Appealable.COMPLAINT_RESPONSE, DecidingBody.COMPLAINTS_TEAM, date(2027, 2, 1), stage=2),
            NotHeard.STAGE_TWO_DONE,
        ),
    ],
)
def test_each_decision_has_its_route_and_its_clock(taken, expected):
    assert hearing_for(taken, CLOCK) == expected


def test_an_outcome_is_due_by_the_stage_or_the_councils_target():
    received = date(2027, 1, 11)
    stage_one = Hearing(AppealRoute.COMPLAINTS_PROCEDURE, date(2027, 5, 23), 1)
    stage_two = Hearing(AppealRoute.COMPLAINTS_PROCEDURE, date(2027, 5, 23), 2)
    group = Hearing(AppealRoute.COMPLAINTS_REVIEW_GROUP, date(2027, 2, 8))
    assert respond_by(stage_one, received, CLOCK) == date(2027, 1, 18)  # 5 working days
    assert respond_by(stage_two, received, CLOCK) == date(2027, 2, 8)  # 20
    assert respond_by(group, received, Clock(outcome_working_days=10, holidays=SCOTLAND)) == date(2027, 1, 25)


def test_outcomes_speak_from_the_customers_side():
    assert outcome_words(AppealOutcome.UPHELD, AppealRoute.COMPLAINTS_REVIEW_GROUP) == (
        "Upheld: the decision is overturned"
    )
    assert outcome_words(AppealOutcome.PARTLY_UPHELD, AppealRoute.CHIEF_EXECUTIVE) == (
        "Partly upheld: the decision is varied"
    )
    assert outcome_words(AppealOutcome.NOT_UPHELD, AppealRoute.COMPLAINTS_REVIEW_GROUP) == (
        "Not upheld: the decision is confirmed"
    )
    assert outcome_words(AppealOutcome.UPHELD, AppealRoute.COMPLAINTS_PROCEDURE) == "Upheld"


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 11, 23), 6, date(2027, 5, 23)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),  # the month's last day where it is shorter
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 12, 15), 2, date(2027, 2, 15)),
    ],
)
def test_calendar_months(start, months, expected):
    assert add_months(start, months) == expected


def test_an_open_appeals_due_day_is_the_one_kept_or_for_an_older_one_the_target():
    from policy.appeals import outcome_due

    assert outcome_due(date(2027, 1, 18), date(2027, 1, 11), CLOCK) == date(2027, 1, 18)
    # Logged before the register kept the day: 20 working days on, St Andrew's Day not one.
    assert outcome_due(None, date(2026, 11, 23), CLOCK) == date(2026, 12, 22)
