"""Nothing waits unseen: an undecided report is chased, the managers again and then the register
keepers, in hours for category one; a keeper names a manager to decide, and never decides."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import SERVICES
from dialogs import chasing
from storage.models import AuditEvent, Decision, Incident
from storage.models import Person as PersonRow
from tests.support.dialog import closing_text, dialog_button, inputs, open_from, submit_dialog, texts
from tests.support.reporting import report
from tests.support.teams import AMY, KIM, SAM
from tests.test_decide import HAL, ROLES, WES

THREAT = {
    "behaviours": "violent_aggressive_threatening",
    "description": "Said he would wait for me after work.",
}
WHO = {AMY.chat_id: "Amy", HAL.chat_id: "Hal", KIM.chat_id: "Kim", WES.chat_id: "Wes"}


@pytest.fixture
async def council(harness):
    await harness.import_roles(ROLES)
    for person in (AMY, HAL, WES, KIM, SAM):
        await harness.say(person, "hi")
    harness.connector.clear()
    return harness


async def _every(council, step: timedelta, until: datetime) -> list[tuple[datetime, str, str]]:
    """Run the chase at each step until `until`; what arrived, when, to whom."""
    received = []
    while council.clock() < until:
        council.clock.advance(seconds=step.total_seconds())
        await chasing.sweep_undecided(council.app[SERVICES])
        council.connector.clear()
        await council.deliver()
        received += [
            (council.clock(), WHO.get(s.conversation_id, "?"), s.activity.get("summary", ""))
            for s in council.connector.sent
            if s.method == "POST"
        ]
    return received


async def test_a_category_one_report_is_chased_in_hours_at_any_hour_until_decided(council):
    council.clock.now = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # Monday, 4 p.m.
    reference = await report(council, SAM, category="one", behaviour=THREAT)
    await council.deliver()
    council.connector.clear()
    received = await _every(council, timedelta(minutes=30), datetime(2026, 11, 24, 21, 0, tzinfo=UTC))
    at = lambda h, m=0, d=23: datetime(2026, 11, d, h, m, tzinfo=UTC)  # noqa: E731
    assert received == [
        (at(18), "Amy", f"URGENT Still waiting for a decision: {reference}, 2 hours"),
        (at(18), "Hal", f"URGENT Still waiting for a decision: {reference}, 2 hours"),
        (at(20), "Kim", f"URGENT Undecided for 4 hours: {reference}"),  # 8 p.m.: a threat waits for no one
        (at(20, d=24), "Kim", f"URGENT Undecided for 28 hours: {reference}"),  # and again each day
    ]
    events = await council.rows(AuditEvent, AuditEvent.action == "incident.chased")
    assert [e.detail["stage"] for e in events] == ["managers", "keepers", "keepers"]


async def test_other_categories_are_chased_in_working_days_and_the_cards_say_how_long(council):
    reference = await report(council, SAM)  # category two, Monday 23 November, 10:00
    await council.deliver()
    council.connector.clear()
    received = await _every(council, timedelta(hours=1), datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    assert [(when.date().isoformat(), when.hour, who) for when, who, _ in received] == [
        ("2026-11-25", 10, "Amy"),  # two working days
        ("2026-11-25", 10, "Hal"),
        # Five working days, St Andrew's Day (Monday 30 November) not one: the register keepers.
        ("2026-12-01", 10, "Kim"),
    ]
    assert received[0][2] == f"Still waiting for a decision: {reference}, 2 days"


async def _chased_card(council, person, until: datetime) -> dict:
    council.connector.clear()
    while council.clock() < until:
        council.clock.advance(minutes=30)
        await chasing.sweep_undecided(council.app[SERVICES])
    await council.deliver()
    (sent,) = [s for s in council.connector.to(person.chat_id) if s.method == "POST"]
    return sent.card


async def test_a_keeper_names_a_manager_to_decide_and_never_decides(council):
    reference = await report(council, SAM, category="one", behaviour=THREAT)
    await council.deliver()
    card = await _chased_card(council, KIM, datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
    shown = texts(card)
    assert "Waiting 4 hours for a decision." in shown and "Managers decide" in shown
    with pytest.raises(AssertionError):
        dialog_button(card, "Active management")
    (incident,) = await council.rows(Incident)
    forged = await submit_dialog(
        council,
        KIM,
        {"verb": "decision.submit", "incident": incident.id, "kind": "no_further_action", "reasons": "x"},
    )
    assert "You do not have access" in closing_text(forged)
    form = await open_from(council, KIM, card, "Name a manager to decide")
    managers = {c["title"]: c["value"] for c in inputs(form.card)["manager"]["choices"]}
    assert set(managers) == {"Amy Manager", "Hal Manager", "Wes Waste"}
    refused = await form.press("Name them", manager=managers["Wes Waste"])
    assert "Say why" in texts(refused)
    await form.press(
        "Name them", manager=managers["Wes Waste"], reason="Amy and Hal are both on leave this week."
    )
    assert f"Wes Waste is asked to decide on {reference}" in closing_text(form)
    await council.deliver()
    (asked,) = [s for s in council.connector.to(WES.chat_id) if s.method == "POST"]
    assert asked.activity["summary"] == f"URGENT You are asked to decide on {reference}"
    assert "Amy and Hal are both on leave this week." in texts(asked.card)
    decision = await open_from(council, WES, asked.card, "No further action")
    await decision.press("Record decision", reasons="Spoken to by the police; no further contact.")
    assert "Decided: No further action" in closing_text(decision)
    (wes,) = await council.rows(PersonRow, PersonRow.email == WES.email)
    (row,) = await council.rows(Decision)
    assert row.decided_by_id == wes.id
    (incident,) = await council.rows(Incident)
    assert (incident.named_decider_id, incident.named_decider_reason) == (
        wes.id,
        "Amy and Hal are both on leave this week.",
    )
    (named,) = await council.rows(AuditEvent, AuditEvent.action == "incident.decider_named")
    assert named.detail == {"manager": wes.id}
    # Every copy, the keeper's chased card too, now shows the decision and no buttons to decide.
    await council.deliver()
    updated = [s for s in council.connector.to(KIM.chat_id) if s.method == "PUT"]
    assert updated and "Decided: No further action" in texts(updated[-1].card)
    # The chase stops once decided.
    council.connector.clear()
    council.clock.advance(days=3)
    assert await chasing.sweep_undecided(council.app[SERVICES]) == 0


async def test_check_says_a_threat_awaits_a_decision_and_whom_to_contact_and_nothing_more(council):
    await report(council, SAM, category="one", behaviour=THREAT)
    await council.deliver()
    council.clock.advance(days=30)  # still undecided a month on
    (answer,) = await council.say(SAM, "check pat jones TD6 0SA")
    shown = texts(answer.card)
    assert "A report of threatening behaviour awaits a decision" in shown
    assert "Amy Manager, Hal Manager (Housing)" in shown
    assert "deal with them as normal" not in shown
    assert "wait for me after work" not in shown  # nothing more: not what was reported
    notice = next(s for s in council.connector.to(AMY.chat_id) if s.method == "POST")
    decision = await open_from(council, AMY, notice.card, "No further action")
    await decision.press("Record decision", reasons="Police spoke to him; apologised.")
    (answer,) = await council.say(SAM, "check pat jones TD6 0SA")
    assert "deal with them as normal" in texts(answer.card)
