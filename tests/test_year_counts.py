"""The annual report and `stats` count what nothing-waits-unseen needs: customers under active
management, restrictions with no review, incidents undecided at year end, contacts ended, and
decisions without prior warning (only where the threat was extreme)."""

from datetime import UTC, datetime

import pytest

from bot.app import SERVICES
from dialogs import register_reports
from tests.support.dialog import open_from, texts
from tests.support.reporting import report
from tests.support.teams import AMY, KIM, SAM
from tests.test_decide import ACTIVE, HAL, ROLES, WES

RESTRICT = {k: v for k, v in ACTIVE.items() if k != "restorative_not_possible_reason"}


@pytest.fixture
async def council(harness):
    await harness.import_roles(ROLES)
    for person in (AMY, HAL, WES, KIM, SAM):
        await harness.say(person, "hi")
    harness.connector.clear()
    return harness


async def _reported(council, name: str, postcode: str, **what) -> dict:
    customer = {"new_name": name, "new_postcode": postcode}
    await report(council, SAM, customer, **what)
    await council.deliver()
    card = [s for s in council.connector.to(AMY.chat_id) if s.method == "POST"][-1].card
    council.connector.clear()
    return card


async def _restrict(council, card: dict, **decision) -> None:
    form = await open_from(council, AMY, card, "Active management")
    assert await form.press("Record decision", **{**RESTRICT, **decision}) is None, texts(form.card)


async def test_the_years_figures_count_what_waits_and_what_was_done_without_warning(council):
    # Warned outside the bot: not "without prior warning".
    card = await _reported(council, "Pat Jones", "TD6 0SA")
    await _restrict(
        council, card, prior_steps="explained_consequences", prior_on="2026-10-01", prior_by="Housing officer"
    )
    # Restorative approaches not possible: not "without prior warning" either.
    card = await _reported(council, "Lee Brown", "TD1 1AA")
    await _restrict(council, card, restorative_not_possible_reason="Refuses to speak to any officer.")
    # The threat so extreme we act without warning, with a restriction never reviewed.
    card = await _reported(
        council,
        "Chris Hall",
        "TD9 9ZZ",
        category="one",
        behaviour={"behaviours": "violent_aggressive_threatening"},
    )
    await _restrict(
        council,
        card,
        without_prior_warning_reason="Threatened to wait for staff after work.",
        restriction_1_no_review="true",
        restriction_1_no_review_reason="A ban from the premises while the police investigate.",
    )
    # Two reports nobody decides this year (every report here ended the contact at the time).
    waiting = [await _reported(council, n, p) for n, p in (("Ann Ray", "TD2 2BB"), ("Bob Kay", "TD3 3CC"))]
    council.clock.now = datetime(2027, 1, 6, 10, tzinfo=UTC)
    figures = await register_reports.figures(council.app[SERVICES], 2026)
    unseen = dict(figures.table("unseen").rows)
    assert unseen == {
        "Customers under active management at year end": 3,
        "Restrictions with no review, in force at year end": 1,
        "Restrictions with no review overseen by the register keepers": 0,
        "Incidents undecided at year end": 2,
        "Contacts ended by staff at the time": 5,
    }
    warnings = dict(figures.table("without_warning").rows)
    assert warnings == {
        "Without prior warning: the threat was so extreme that it demanded it": 1,
        "Restorative approaches not possible or not appropriate (recorded why)": 1,
    }
    assert figures.headline["Without prior warning"] == 1
    # Decided in January: still undecided at the end of 2026, as the report says whenever it is run.
    form = await open_from(council, AMY, waiting[0], "No further action")
    assert await form.press("Record decision", reasons="A one-off.") is None
    assert (await register_reports.figures(council.app[SERVICES], 2026)).table("unseen").rows[3][1] == 2


async def test_the_stats_card_shows_the_new_counts(council):
    for n in range(5):
        await _reported(council, f"Customer Number{'abcde'[n]}", f"TD{n} 1AA")
    (answer,) = await council.say(KIM, "stats")
    shown = texts(answer.card)
    for label in (
        "Customers under active management",
        "Restrictions with no review",
        "Incidents undecided at year end",
        "Contacts ended",
        "Without prior warning",
    ):
        assert label in shown
    facts = {
        f["title"]: f["value"] for e in answer.card["body"] if e.get("type") == "FactSet" for f in e["facts"]
    }
    assert (facts["Incidents undecided at year end"], facts["Contacts ended"]) == ("5", "5")
