"""A customer counts as warned only where a recorded approach explained what may follow, recently;
approaches tried, not possible, and without warning because the threat is extreme are kept apart."""

from datetime import UTC, date, datetime

import pytest

from storage.models import Decision, RestorativeStepTaken
from tests.support.dialog import closing_text, open_from, texts
from tests.support.reporting import report
from tests.support.teams import AMY, KIM, SAM
from tests.test_decide import ACTIVE, HAL, ROLES, WES

RESTRICT = {k: v for k, v in ACTIVE.items() if k != "restorative_not_possible_reason"}
ASKED = "No restorative approach recorded in the last 12 months explained to the customer"


@pytest.fixture
async def council(harness):
    await harness.import_roles(ROLES)
    for person in (AMY, HAL, WES, KIM, SAM):
        await harness.say(person, "hi")
    harness.connector.clear()
    return harness


async def _card(council, **what) -> dict:
    """A report about Pat Jones (found again after the first); the card Amy is sent."""
    existing = await council.rows(Decision)
    customer = {"customer_query": "pat jones TD6 0SA", "customer_id": "1"} if existing else None
    await report(council, SAM, customer, **what)
    await council.deliver()
    card = [s for s in council.connector.to(AMY.chat_id) if s.method == "POST"][-1].card
    council.connector.clear()
    return card


async def test_a_warning_given_outside_the_bot_is_recorded_with_when_and_by_whom(council):
    card = await _card(council)
    form = await open_from(council, AMY, card, "Active management")
    refused = await form.press("Record decision", **RESTRICT)
    assert ASKED in texts(refused)
    refused = await form.press("Record decision", **RESTRICT, prior_steps="explained_consequences")
    assert "Enter when they were taken" in texts(refused) and "Say who took them" in texts(refused)
    await form.press(
        "Record decision",
        **RESTRICT,
        prior_steps="discussed_behaviour,explained_consequences",
        prior_on="2026-09-14",
        prior_by="Housing officer, by letter",
    )
    assert "Decided: Active management" in closing_text(form)
    (decision,) = await council.rows(Decision)
    # Neither "not possible" nor the serious statement that the threat was extreme.
    assert (decision.without_prior_warning, decision.restorative_not_possible_reason) == (False, None)
    steps = sorted(await council.rows(RestorativeStepTaken), key=lambda s: s.step)
    assert [(s.step, s.taken_on, s.taken_by) for s in steps] == [
        ("discussed_behaviour", date(2026, 9, 14), "Housing officer, by letter"),
        ("explained_consequences", date(2026, 9, 14), "Housing officer, by letter"),
    ]


async def test_any_restorative_step_is_not_a_warning_unless_it_explained_what_may_follow(council):
    card = await _card(council, service_area="housing")
    form = await open_from(council, AMY, card, "Restorative approach")
    await form.press("Record decision", reasons="Talked it through.", restorative_steps="discussed_behaviour")
    card = await _card(council)
    form = await open_from(council, AMY, card, "Active management")
    assert "Restorative approaches tried" in texts(form.card)
    refused = await form.press("Record decision", **RESTRICT)
    assert ASKED in texts(refused)


async def test_a_warning_counts_for_twelve_months_then_a_reason_is_needed_again(council):
    card = await _card(council)
    form = await open_from(council, AMY, card, "Restorative approach")
    await form.press(
        "Record decision",
        reasons="Explained what happens if the calls continue.",
        restorative_steps="discussed_behaviour,explained_consequences",
    )
    council.clock.now = datetime(2027, 2, 1, 10, tzinfo=UTC)  # ten weeks on: warned
    card = await _card(council, occurred_date="2027-02-01")
    form = await open_from(council, AMY, card, "Active management")
    assert "The customer was warned" in texts(form.card)
    await form.press("Record decision", **RESTRICT)
    assert "Decided: Active management" in closing_text(form)
    council.clock.now = datetime(2027, 12, 1, 10, tzinfo=UTC)  # more than 12 months on
    card = await _card(council, occurred_date="2027-12-01")
    form = await open_from(council, HAL, card, "Active management")
    assert "The customer was warned" not in texts(form.card)
    refused = await form.press("Record decision", **RESTRICT)
    assert ASKED in texts(refused)
    await form.press("Record decision", **RESTRICT, restorative_not_possible_reason="Refuses all calls.")
    assert "Decided: Active management" in closing_text(form)
    assert not any(d.without_prior_warning for d in await council.rows(Decision))
