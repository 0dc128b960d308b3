"""What people type when they do not know the commands: suggestions with buttons (only of
commands they may use), a polite answer to thanks, and `my incidents`."""

import pytest

from storage.models import AuditEvent
from tests.support.dialog import texts, walk
from tests.support.reporting import report
from tests.support.teams import AMY, KIM, SAM


@pytest.fixture
async def council(harness):
    await harness.import_roles()
    for person in (AMY, KIM, SAM):
        await harness.say(person, "hi")
    harness.connector.clear()
    return harness


def _sends(card: dict) -> list[str]:
    """The text each of the card's imBack buttons sends, as if typed."""
    return [
        a["data"]["msteams"]["value"]
        for a in walk(card.get("actions", []))
        if a.get("data", {}).get("msteams", {}).get("type") == "imBack"
    ]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("report a customer", "report"),
        ("reprot", "report"),
        ("what can you do", "help"),
        ("I want to look up a customer", "check"),
        ("my incidnets", "my incidents"),
    ],
)
async def test_what_people_mean_is_suggested_with_a_button(council, typed, meant):
    (reply,) = await council.say(SAM, typed)
    assert "I don't know" in texts(reply.card)
    shown = texts(reply.card)
    assert f"**{meant.split(' <')[0]}" in shown
    if meant != "check":  # `check` needs a name: it is explained, not a button
        assert _sends(reply.card)[0] == meant
    assert "help" in _sends(reply.card)


async def test_staff_are_never_offered_a_keepers_command(council):
    (staff,) = await council.say(SAM, "statistics")
    assert "stats" not in _sends(staff.card) and "**stats**" not in texts(staff.card)
    (keeper,) = await council.say(KIM, "statistics")
    assert _sends(keeper.card)[0] == "stats"


async def test_nonsense_gets_a_help_button_only(council):
    (reply,) = await council.say(SAM, "banana")
    assert _sends(reply.card) == ["help"]
    assert "Did you mean" not in texts(reply.card)


@pytest.mark.parametrize("typed", ["thanks", "Thank you!", "cheers", "thanks, that helped"])
async def test_thanks_gets_a_polite_answer(council, typed):
    (reply,) = await council.say(SAM, typed)
    assert reply.text.startswith("You're welcome")


async def test_welcome_and_help_carry_buttons_for_what_this_person_may_do(council):
    (staff_help,) = await council.say(SAM, "help")
    assert _sends(staff_help.card) == ["my incidents"]
    (welcome,) = await council.say(SAM, "hello")
    assert _sends(welcome.card) == ["my incidents", "help"]
    (keeper,) = await council.say(KIM, "hello")
    assert sorted(_sends(keeper.card)) == ["help", "my incidents", "stats", "undelivered"]
    assert len(keeper.card["actions"]) <= 6
    # Pressing a button is typing its command.
    (mine,) = await council.say(SAM, _sends(welcome.card)[0])
    assert "Incidents you reported" in texts(mine.card)


async def test_my_incidents_lists_only_the_persons_own_with_their_state(council):
    mine = await report(council, SAM)
    theirs = await report(council, KIM)
    await council.deliver()
    council.connector.clear()
    before = len(await council.rows(AuditEvent))

    (reply,) = await council.say(SAM, "My incidents")
    shown = texts(reply.card)
    assert mine in shown and theirs not in shown
    assert "Mon 23 Nov 2026" in shown and "Category two" in shown
    assert "Waiting for a manager's decision" in shown
    # Nothing about the customer: not a view of their record.
    assert "Pat Jones" not in shown
    assert len(await council.rows(AuditEvent)) == before

    (nothing,) = await council.say(AMY, "my reports")
    assert "You have not reported any incidents." in texts(nothing.card)
