"""Restrictions with no review come before the register keepers at least yearly, in a queue of
their own; the keepers oversee (or ask the reviewer to review), and never decide."""

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.app import SERVICES
from dialogs import oversight
from storage.models import AuditEvent, Restriction
from tests.support.dialog import closing_text, latest_card, open_from, submit_dialog, texts
from tests.support.reporting import report
from tests.support.teams import AMY, KIM, SAM
from tests.test_decide import ACTIVE, HAL, ROLES, WES

NO_REVIEW = {
    "restriction_1_type": "matter_closed",
    "restriction_1_details": "The 2025 repairs complaint is closed.",
    "restriction_1_no_review": "true",
    "restriction_1_no_review_reason": "The matter is closed for good: nothing to review.",
}


@pytest.fixture
async def council(harness):
    await harness.import_roles(ROLES)
    for person in (AMY, HAL, WES, KIM, SAM):
        await harness.say(person, "hi")
    harness.connector.clear()
    await report(harness, SAM)
    await harness.deliver()
    (notice,) = [s for s in harness.connector.to(AMY.chat_id) if s.method == "POST"]
    form = await open_from(harness, AMY, notice.card, "Active management")
    await form.press("Record decision", **{**ACTIVE, **NO_REVIEW})
    await harness.deliver()
    harness.connector.clear()
    return harness


async def _days(council, until: date) -> list[tuple[date, str]]:
    received = []
    while council.clock().date() < until:
        council.clock.now = datetime.combine(
            council.clock().date() + timedelta(days=1), datetime.min.time(), UTC
        ).replace(hour=10)
        await oversight.sweep_no_review(council.app[SERVICES])
        council.connector.clear()
        await council.deliver()
        received += [
            (council.clock().date(), s.activity.get("summary", ""))
            for s in council.connector.to(KIM.chat_id)
            if s.method == "POST"
        ]
    return received


async def test_a_restriction_with_no_review_comes_before_the_keepers_at_once_then_yearly(council):
    assert await oversight.sweep_no_review(council.app[SERVICES]) == 1  # the day it is applied
    card = await latest_card(council, KIM)
    shown = texts(card)
    assert "The matter is closed for good: nothing to review." in shown and "Last overseen" in shown
    (queue,) = await council.say(KIM, "no review")
    assert "Due now (never overseen)" in texts(queue.card)
    form = await open_from(council, KIM, card, "Record oversight")
    refused = await form.press("Record oversight", outcome="stands")
    assert "Say what was looked at" in texts(refused)
    await form.press(
        "Record oversight", outcome="stands", note="No contact on the matter since; still closed."
    )
    assert "it comes before the register keepers again by Tue 23 Nov 2027" in closing_text(form)
    updated = await latest_card(council, KIM)
    assert "Kim Keeper" in texts(updated)
    (queue,) = await council.say(KIM, "no review")
    assert "Before the keepers by Tue 23 Nov 2027" in texts(queue.card)
    received = await _days(council, date(2027, 11, 30))
    assert received == [(date(2027, 11, 23), "No review: Pat Jones · TD6 0SA")]
    events = [e.action for e in await council.rows(AuditEvent) if e.action.startswith("restriction.overs")]
    assert events == ["restriction.oversight_due", "restriction.overseen", "restriction.oversight_due"]


async def test_the_keepers_ask_the_reviewer_who_gives_it_a_review_and_it_leaves_the_queue(council):
    await oversight.sweep_no_review(council.app[SERVICES])
    card = await latest_card(council, KIM)
    form = await open_from(council, KIM, card, "Record oversight")
    await form.press("Record oversight", outcome="review", note="Three new incidents since: worth a review.")
    assert "Amy Manager is asked to review it now." in closing_text(form)
    review = await latest_card(council, AMY)
    continued = await open_from(council, AMY, review, "Continue")
    await continued.press("Record review", reasons="Still needed.", next_review_on="2027-05-23")
    (row,) = await council.rows(Restriction)
    assert (row.review_due_on, row.oversight_due_on) == (date(2027, 5, 23), None)
    # The keepers' card no longer offers an oversight of what is now reviewed.
    now_shown = await latest_card(council, KIM)
    assert "Continued by Amy Manager" in texts(now_shown)
    assert now_shown.get("actions", []) == []  # keepers oversee: the letter's buttons are Amy's
    (queue,) = await council.say(KIM, "no review")
    assert "No active restriction is without a review." in texts(queue.card)


async def test_only_keepers_oversee(council):
    (refused,) = await council.say(AMY, "no review")
    assert "Only some roles may use" in refused.text
    (restriction,) = await council.rows(Restriction)
    forged = await submit_dialog(
        council,
        AMY,
        {"verb": "restriction.oversee", "restriction": restriction.id, "outcome": "stands", "note": "x"},
    )
    assert "You do not have access" in closing_text(forged)
    assert (await council.rows(Restriction))[0].overseen_at is None
