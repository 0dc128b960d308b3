"""A notification is never lost to Teams' message size limit (413): cards keep within a budget."""

import json

from cards import decision as cards
from cards.elements import CARD_BUDGET_UTF16, CUT, MESSAGE_LIMIT_UTF16, card, text, utf16_size
from cards.report import Summary
from policy.decisions import DecisionKind
from policy.incidents import DESCRIPTION_MAX
from storage import outbox
from storage.models import OutboxMessage
from tests.support.dialog import texts
from tests.support.teams import AMY
from tests.test_outbox import _person_id


def _words(length: int) -> str:
    return ("w" * 9 + " ") * (length // 10)


def _everything_at_its_maximum() -> cards.IncidentView:
    """A customer with 200 earlier incidents, and every field as long as the forms allow."""
    w = _words
    summary = Summary(
        customer=w(200),
        when="Mon 23 Nov 2026 10:00",
        channel="Phone",
        service_area=w(100),
        category="Category one",
        behaviours=[w(120)] * 12,
        description=w(DESCRIPTION_MAX),
        impact_on_staff=w(2000),
        impact_on_service=w(2000),
        others_affected=[w(40)] * 5,
        immediate_action=[w(80)] * 6,
        wants_support=True,
        urgent=True,
        customer_details=[("Email", w(320)), ("Address", w(500)), ("Support needs", w(2000))],
        aggravating=[w(100)] * 2,
    )
    history = cards.HistoryView(
        incidents=[f"INC-2025-{n:05d} · 1 Jan 2025 · Category two · decided" for n in range(200)],
        restorative_steps=[f"Conversation ({n})" for n in range(200)],
        restrictions=[w(90)] * 200,
        appeals=[w(60)] * 200,
    )
    restriction = cards.RestrictionView(w(60), w(2000), w(80), w(2000), w(60), w(60))
    decided = cards.DecisionView(
        kind=DecisionKind.ACTIVE_MANAGEMENT,
        by=w(200),
        at="23 Nov 2026",
        reasons=w(4000),
        facts=[(f"Fact {n}", w(2000)) for n in range(4)],
        restrictions=[restriction] * cards.MAX_RESTRICTIONS,
        letter=cards.LetterView(1, w(2000), True),
    )
    return cards.IncidentView(
        1,
        1,
        "INC-2026-00001",
        summary,
        w(200),
        history,
        decided,
        can_decide=True,
        refresh_user_ids=["29:x"] * 20,
    )


def test_the_largest_card_keeps_within_budget_and_says_what_it_left_out():
    built = cards.incident_card(_everything_at_its_maximum())
    assert utf16_size(built) <= CARD_BUDGET_UTF16 < MESSAGE_LIMIT_UTF16
    shown = texts(built)
    assert "and 190 earlier (see the full record)" in shown
    assert "INC-2025-00000" in shown and "INC-2025-00010" not in shown  # the newest ten at most
    assert CUT.strip() in shown


def test_an_ordinary_card_is_not_cut():
    built = card([text(_words(3000))])
    assert CUT.strip() not in json.dumps(built)


async def test_the_largest_notification_is_delivered_not_refused(harness):
    await harness.import_roles()
    await harness.say(AMY, "hi")
    harness.connector.clear()
    activity = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": cards.incident_card(_everything_at_its_maximum()),
            }
        ],
    }
    async with harness.sessions() as session:
        outbox.enqueue(
            session,
            outbox.Recipient(person_id=await _person_id(harness, AMY)),
            activity,
            purpose="test",
            now=harness.clock(),
        )
        await session.commit()
    assert await harness.deliver() == 1
    assert harness.connector.refused == 0
    (row,) = await harness.rows(OutboxMessage, OutboxMessage.purpose == "test")
    assert row.status == "sent"


async def test_the_recording_connector_refuses_what_teams_would(harness):
    # Without the budget the same card is far over the limit: Teams (and this stand-in) say 413.
    await harness.import_roles()
    await harness.say(AMY, "hi")
    harness.connector.clear()
    huge = {"type": "message", "text": "x" * (MESSAGE_LIMIT_UTF16 // 2 + 1)}
    async with harness.sessions() as session:
        outbox.enqueue(
            session,
            outbox.Recipient(person_id=await _person_id(harness, AMY)),
            huge,
            purpose="test",
            now=harness.clock(),
        )
        await session.commit()
    assert await harness.deliver() == 0
    assert harness.connector.refused == 1
    (row,) = await harness.rows(OutboxMessage, OutboxMessage.purpose == "test")
    assert (row.status, row.last_error) == ("failed", "HTTP 413")
