"""When a restriction's reviewer is reminded, and when the register keepers are told.

The reviewer is told 14 days before the review date and on the day; a review not done is
reminded again after 3 working days, and after 10 working days overdue the register keepers are
told. Stages are dates: the sweep that sends them runs in working hours only.
"""

from collections.abc import Collection
from datetime import date, timedelta
from enum import StrEnum

from policy.working_days import add_working_days

NOTICE_DAYS = 14
REMIND_AGAIN_WORKING_DAYS = 3
ESCALATE_WORKING_DAYS = 10


class Stage(StrEnum):
    DUE_SOON = "due_soon"
    DUE = "due"
    OVERDUE = "overdue"
    ESCALATED = "escalated"


def stages(review_due_on: date, holidays: Collection[date] = ()) -> list[tuple[Stage, date]]:
    return [
        (Stage.DUE_SOON, review_due_on - timedelta(days=NOTICE_DAYS)),
        (Stage.DUE, review_due_on),
        (Stage.OVERDUE, add_working_days(review_due_on, REMIND_AGAIN_WORKING_DAYS, holidays)),
        (Stage.ESCALATED, add_working_days(review_due_on, ESCALATE_WORKING_DAYS, holidays)),
    ]


def first_reminder(review_due_on: date | None, holidays: Collection[date] = ()) -> date | None:
    """When the sweep should first look at a restriction; None when it is never reviewed."""
    return None if review_due_on is None else stages(review_due_on, holidays)[0][1]


def due_now(
    review_due_on: date, today: date, sent: Stage | None, holidays: Collection[date] = ()
) -> tuple[Stage | None, date | None]:
    """The stage to send today (the latest one reached: a stage missed while the bot was down is
    not sent late as well), and when the sweep should look again (None: nothing more to send)."""
    schedule = stages(review_due_on, holidays)
    done = [s for s, _ in schedule].index(sent) if sent else -1
    reached = [i for i, (_, when) in enumerate(schedule) if when <= today and i > done]
    send = reached[-1] if reached else None
    after = send if send is not None else done
    upcoming = schedule[after + 1][1] if after + 1 < len(schedule) else None
    return (schedule[send][0] if send is not None else None), upcoming
