"""Managers decide in the notification card: the register, the letter, the lookup."""

import asyncio
import io
import json
from datetime import date
from urllib.parse import urlsplit

import aiohttp
import pytest
from docx import Document

from dialogs import reminders
from storage import audit
from storage.models import (
    AuditEvent,
    Customer,
    Decision,
    Incident,
    Letter,
    OutboxMessage,
    RestorativeStepTaken,
    Restriction,
)
from storage.models import Person as PersonRow
from tests.support.dialog import (
    Dialog,
    appeal_choice,
    closing_text,
    dialog_button,
    execute_action,
    inputs,
    latest_card,
    open_from,
    press_execute,
    submit_dialog,
    texts,
    universal,
)
from tests.support.reporting import report
from tests.support.teams import AMY, KIM, SAM, Person

HAL = Person.called("Hal Manager", "hal.manager@council.example")
WES = Person.called("Wes Waste", "wes.manager@council.example")
ROLES = """
[service_areas.housing]
name = "Housing"
managers = ["amy.manager@council.example", "hal.manager@council.example"]

[service_areas.waste]
name = "Waste and Recycling"
managers = ["wes.manager@council.example"]

[roles]
register_keepers = ["kim.keeper@council.example"]
"""


@pytest.fixture
async def council(harness):
    await harness.import_roles(ROLES)
    for person in (AMY, HAL, WES, KIM, SAM):
        await harness.say(person, "hi")
    harness.connector.clear()
    return harness


async def _reported(council, reporter=SAM, customer=None, behaviour=None, **what) -> tuple[str, dict]:
    reference = await report(council, reporter, customer, behaviour, **what)
    await council.deliver()
    (notice,) = [s for s in council.connector.to(AMY.chat_id) if s.method == "POST"]
    council.connector.clear()
    return reference, notice.card


ACTIVE = {
    "reasons": "Three calls a day for a month, each over 40 minutes, after clear answers were given.",
    "customer_explanation": (
        "Over the last month you have phoned us up to three times a day, often for more than 40 "
        "minutes, about questions we had already answered."
    ),
    "needs_considered": "yes",
    "needs_considered_note": "No support needs known; offered email instead of phone.",
    "restorative_not_possible_reason": "Refused to discuss the behaviour when asked on 3 calls.",
    "restriction_1_type": "contact_channels",
    "restriction_1_details": "Email to housing.contact@council.example only.",
    "restriction_1_scope": "service",
    "restriction_1_frontline_instructions": (
        "Do not take calls; ask them to email housing.contact@council.example."
    ),
}


async def test_the_card_shows_the_incident_history_checklist_and_decisions(council):
    first, _ = await _reported(council)
    pat = {"customer_query": "pat jones TD6 0SA", "customer_id": "1"}
    reference, card = await _reported(council, customer=pat)
    shown = texts(card)
    assert f"Incident {reference}" in shown
    assert f"{first} · Mon 23 Nov 2026 · Category two · reported" in shown  # the earlier incident
    assert "Have restorative approaches been tried, or were they not possible or appropriate?" in shown
    assert "Is the response proportionate: the minimum needed to solve the problem?" in shown
    titles = [a["title"] for a in card["actions"]]
    assert titles[:4] == [
        "No further action",
        "Restorative approach",
        "Active management",
        "Refer to police / legal action",
    ]
    # Each opens its form in a dialog, where the card's refresh cannot reach what is typed.
    assert all(a["data"]["msteams"] == {"type": "task/fetch"} for a in card["actions"])
    assert set(card["refresh"]["userIds"]) == {AMY.teams_id, HAL.teams_id, KIM.teams_id}


async def test_no_further_action_updates_every_managers_card_and_tells_the_reporter(council):
    reference, card = await _reported(council)
    form = await open_from(council, AMY, card, "No further action")
    assert "Reasons for this decision" in texts(form.card)
    empty = await form.press("Record decision")
    assert "Give the reasons for this decision: every decision needs them" in texts(empty)
    assert await form.press("Record decision", reasons="A one-off; the customer apologised.") is None
    assert "Decided: No further action" in form.closing_message
    (incident,) = await council.rows(Incident)
    assert incident.status == "decided"
    assert await council.rows(Letter) == []  # nothing to tell the customer
    decided = await latest_card(council, AMY)
    assert "Decided: No further action" in texts(decided)
    assert "By Amy Manager" in texts(decided)

    updates = [s for s in council.connector.sent if s.method == "PUT"]
    assert {u.conversation_id for u in updates} == {AMY.chat_id, HAL.chat_id}
    assert all("Decided: No further action" in texts(u.card) for u in updates)
    # Each names, as Teams requires, the message it replaces (put in front of the stored text).
    assert all(u.activity["id"] == u.activity_id and u.activity["type"] == "message" for u in updates)
    (told,) = council.connector.to(SAM.chat_id)
    assert f"Decision on {reference}" in texts(told.card)

    # A stale copy pressed later changes nothing and says who decided.
    again = await open_from(council, HAL, card, "Active management")
    assert "Already decided by Amy Manager, Mon 23 Nov 2026, 10:00. Nothing was changed." in closing_text(
        again
    )
    assert len(await council.rows(Decision)) == 1


async def test_restorative_approach_records_the_steps_taken(council):
    _, card = await _reported(council)
    form = await open_from(council, AMY, card, "Restorative approach")
    await form.press(
        "Record decision",
        reasons="First incident; customer open to talking.",
        restorative_steps="discussed_behaviour,explained_concern,asked_to_change,explained_consequences",
        reasonable_adjustments="Calls booked at 10am with the same officer.",
        signposting="Citizens Advice",
        follow_up_on="2026-12-07",
    )
    assert "Decided: Restorative approach" in closing_text(form)
    steps = sorted(s.step for s in await council.rows(RestorativeStepTaken))
    assert steps == [
        "asked_to_change",
        "discussed_behaviour",
        "explained_concern",
        "explained_consequences",
    ]
    (decision,) = await council.rows(Decision)
    assert decision.follow_up_on == date(2026, 12, 7)
    assert len(await council.rows(Letter)) == 1


async def test_active_management_needs_what_the_policy_asks_then_restricts(council):
    _, card = await _reported(council)
    form = await open_from(council, AMY, card, "Active management")
    shown = texts(form.card)
    # Three records kept apart: approaches tried, not possible or appropriate, without warning.
    for label in (
        "Restorative approaches tried",
        "Why they were not possible or not appropriate",
        "Why the threat is so extreme that we act without prior warning",
    ):
        assert label in shown
    # The defaults: starts today, review in six months.
    assert form.card["body"][-1]["items"][-5]["value"] == "2026-11-23"

    refused = await form.press(
        "Record decision",
        reasons="Too many calls.",
        restriction_1_type="contact_channels",
        restriction_1_scope="service",
    )
    shown = texts(refused)
    for message in (
        "Answer whether the customer's support needs and reasonable adjustments were considered",
        "No restorative approach recorded in the last 12 months explained to the customer what may follow",
        "Say exactly what this restriction allows and does not allow",
        "Write what front-line staff should do when the customer makes contact",
    ):
        assert message in shown
    assert await council.rows(Decision) == []

    more = await form.press("Add another restriction", **ACTIVE)
    assert "Restriction 2" in texts(more)
    await form.press(
        "Record decision",
        **ACTIVE,
        restriction_2_type="matter_closed",
        restriction_2_details="The 2025 repairs complaint is closed.",
        restriction_2_scope="council_wide",
        restriction_2_frontline_instructions="Do not reply on the repairs complaint.",
        restriction_2_no_review="true",
        restriction_2_no_review_reason="The matter is closed for good.",
    )
    assert "Decided: Active management" in closing_text(form)
    first, second = sorted(await council.rows(Restriction), key=lambda r: r.id)
    assert (first.type, first.status, first.starts_on, first.review_due_on) == (
        "contact_channels",
        "active",
        date(2026, 11, 23),
        date(2027, 5, 23),
    )
    assert first.frontline_instructions.endswith("This never stops the customer reporting an emergency.")
    assert "still read for new information or safeguarding concerns" in second.frontline_instructions
    assert (second.scope, second.review_due_on, second.no_review_reason) == (
        "council_wide",
        None,
        "The matter is closed for good.",
    )
    (decision,) = await council.rows(Decision)
    # Not possible or appropriate is not "without prior warning because the threat is extreme".
    assert not decision.without_prior_warning and decision.needs_considered
    assert decision.restorative_not_possible_reason and decision.without_prior_warning_reason is None
    events = [
        e.action
        for e in await council.rows(
            AuditEvent, AuditEvent.action.in_(["decision.recorded", "restriction.applied"])
        )
    ]
    assert events == ["decision.recorded", "restriction.applied", "restriction.applied"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"restriction_1_review_due_on": "2026-11-01"}, "The review date must be after the start"),
        (
            {"restriction_1_review_due_on": "2028-01-01"},
            "Review within 12 months of the start, by 2027-11-23",
        ),
        ({"restriction_1_starts_on": "23/11/2026"}, "Enter a date like 2026-11-23"),
        ({"restriction_1_type": "banishment"}, "Choose a restriction from the policy's list"),
        ({"restriction_1_scope": "galaxy"}, "Choose this service only, or council-wide"),
        ({"restriction_1_ends_on": "2026-11-22"}, "The end date must be after the start"),
        # Past ten years is a slip of the keyboard, and 9999-12-31 broke retention for everyone.
        (
            {"restriction_1_ends_on": "9999-12-31"},
            "no decision reaches more than 10 years ahead, to 2036-11-23",
        ),
        ({"restriction_1_starts_on": "9999-12-30"}, "no decision reaches more than 10 years ahead"),
        ({"restriction_1_ends_on": "2036-11-24"}, "no decision reaches more than 10 years ahead"),
        (
            {"needs_considered": "no"},
            "Consider the customer's circumstances, support needs and reasonable adjustments "
            "before restricting contact",
        ),
    ],
)
async def test_forged_or_wrong_restrictions_are_refused_and_nothing_is_stored(council, change, message):
    _, card = await _reported(council)
    form = await open_from(council, AMY, card, "Active management")
    refused = await form.press("Record decision", **{**ACTIVE, **change})
    assert message in texts(refused)
    assert await council.rows(Decision) == []
    assert (await council.rows(Incident))[0].status == "reported"


async def test_category_one_may_be_managed_without_restorative_steps_but_not_without_a_reason(
    council,
):
    _, card = await _reported(
        council, category="one", behaviour={"behaviours": "violent_aggressive_threatening"}
    )
    assert "URGENT: category one, zero tolerance" in texts(card)
    form = await open_from(council, AMY, card, "Active management")
    assert "(category one: zero tolerance)" in texts(form.card)
    data = {k: v for k, v in ACTIVE.items() if k != "restorative_not_possible_reason"}
    refused = await form.press("Record decision", **data)
    assert "or why the threat is so extreme that we act without prior warning" in texts(refused)
    await form.press(
        "Record decision", **data, without_prior_warning_reason="Said he would wait for her after work."
    )
    assert "Decided: Active management" in closing_text(form)
    (decision,) = await council.rows(Decision)
    assert decision.without_prior_warning


async def test_only_managers_of_the_service_may_decide_whatever_the_card_says(council):
    await _reported(council)
    (incident,) = await council.rows(Incident)
    forged = {"incident": incident.id, "kind": "no_further_action", "reasons": "I say so"}
    for outsider in (SAM, WES):
        answer = await _submit(council, outsider, forged)
        assert "You do not have access to incident" in closing_text(answer)
    answer = await universal(council, SAM, "incident.refresh", {"incident": incident.id})
    assert "You do not have access" in texts(answer)
    # A manager who may decide, with ids no card would send: refused, never an error.
    for bad in ("1; DROP TABLE incidents", "²", "3000000000", ["1"], {"id": 1}, None, True):
        answer = await _submit(council, AMY, {"incident": bad, "kind": "no_further_action", "reasons": "x"})
        assert "You do not have access" in closing_text(answer), bad
    answer = await _submit(council, AMY, {"incident": incident.id, "kind": ["active_management"]})
    assert "That is not one of the policy's decisions." in closing_text(answer)
    answer = await universal(
        council, AMY, "letter.sent", {"letter": 1, "method": ["post"], "sent_on": "2026-11-23"}
    )
    assert "You do not have access" in texts(answer)
    assert await council.rows(Decision) == []
    # Register keepers keep the register and oversee; managers decide.
    refused = await _submit(council, KIM, {**forged, "reasons": "Keeper's decision."})
    assert "the register keepers oversee" in closing_text(refused)
    assert await council.rows(Decision) == []
    decided = await _submit(council, HAL, {**forged, "reasons": "A one-off."})
    assert "Decided: No further action" in closing_text(decided)


async def _submit(council, person, data) -> Dialog:
    """A decision sent from the dialog, with whatever the sender put in it."""
    return await submit_dialog(council, person, {"verb": "decision.submit", **data})


async def test_the_reporter_never_decides_their_own_report(council):
    _, _ = await _reported(council, reporter=AMY)
    (incident,) = await council.rows(Incident)
    answer = await _submit(
        council, AMY, {"incident": incident.id, "kind": "no_further_action", "reasons": "Mine."}
    )
    assert "You do not have access" in closing_text(answer)
    assert await council.rows(Decision) == []


async def test_two_managers_deciding_at_once_store_one_decision(council):
    await _reported(council)
    (incident,) = await council.rows(Incident)
    amy = {"incident": incident.id, "kind": "no_further_action", "reasons": "Amy's reasons."}
    hal = {
        "incident": incident.id,
        "kind": "restorative_approach",
        "reasons": "Hal's reasons.",
        "restorative_steps": "discussed_behaviour",
    }
    answers = await asyncio.gather(
        _submit(council, AMY, amy),
        _submit(council, HAL, hal),
    )
    (decision,) = await council.rows(Decision)
    winner, loser = (
        (answers[0], answers[1]) if decision.kind == "no_further_action" else (answers[1], answers[0])
    )
    assert "Decided:" in closing_text(winner)
    assert "Already decided by" in closing_text(loser)
    assert "Nothing was changed." in closing_text(loser)
    assert len(await council.rows(RestorativeStepTaken)) == (
        1 if decision.kind == "restorative_approach" else 0
    )


async def _decide_active(council, card) -> dict:
    """Decide in the dialog; returns Amy's card as the outbox then updates it."""
    form = await open_from(council, AMY, card, "Active management")
    assert await form.press("Record decision", **ACTIVE) is None, texts(form.card)
    return await latest_card(council, AMY)


async def _download(council, url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.read()


def _local(council, url: str) -> str:
    parts = urlsplit(url)
    return str(council._server.make_url(f"{parts.path}?{parts.query}"))


async def test_the_decision_letter_says_what_the_policy_requires(council):
    reference, card = await _reported(council)
    decided = await _decide_active(council, card)
    ready = await press_execute(council, AMY, decided, "Download letter")
    (link,) = [a for a in _walk_actions(ready) if a.get("type") == "Action.OpenUrl"]
    status, body = await _download(council, _local(council, link["url"]))
    assert status == 200
    document = Document(io.BytesIO(body))
    text = "\n".join(p.text for p in document.paragraphs)
    for expected in (
        reference,
        "Dear Pat Jones,",
        "1 High Street, Melrose",
        "Why we have made this decision",
        "you have phoned us up to three times a day",
        "What this means for you",
        "You may contact us only in the ways set out here: Email to housing.contact@council.example only.",
        "None of this stops you contacting us in an emergency.",
        "How long this will last",
        "From 23 November 2026. We will review this by 23 May 2027",
        "If you disagree",
        "the Complaints Review Group",
        "by 22 December 2026 (20 working days",
        "Who we share this with and where it is recorded",
        "Staff in Housing",
        "secure register",
        "large print",
    ):
        assert expected in text, expected
    assert "{{" not in text and "{%" not in text
    assert "Three calls a day" not in text  # the internal reasons stay in the register
    downloads = await council.rows(AuditEvent, AuditEvent.action == "letter.downloaded")
    assert [(e.record_type, e.detail) for e in downloads] == [("letter", {"large_print": False})]

    large = await press_execute(council, AMY, decided, "Large print")
    (link,) = [a for a in _walk_actions(large) if a.get("type") == "Action.OpenUrl"]
    status, body = await _download(council, _local(council, link["url"]))
    sizes = {r.font.size.pt for p in Document(io.BytesIO(body)).paragraphs for r in p.runs if r.text.strip()}
    assert status == 200 and min(sizes) >= 16

    tampered = _local(council, link["url"]).replace("p=", "p=9")
    assert (await _download(council, tampered))[0] == 403
    council.clock.advance(minutes=16)
    assert (await _download(council, _local(council, link["url"])))[0] == 403


def _walk_actions(card):
    from tests.support.dialog import walk

    return [n for n in walk(card) if isinstance(n, dict) and str(n.get("type", "")).startswith("Action.")]


async def test_letter_sent_or_not_appropriate_is_recorded_once(council):
    _, card = await _reported(council)
    decided = await _decide_active(council, card)
    form = await press_execute(council, AMY, decided, "Record letter sent")
    bad = await press_execute(council, AMY, form, "Record", sent_on="2026-12-25", method="post")
    assert "The date must be between the decision and today" in texts(bad)
    recorded = await press_execute(
        council, AMY, form, "Record", sent_on="2026-11-23", method="large_print_post"
    )
    assert "Sent Mon 23 Nov 2026 (Large print, by post)" in texts(recorded)
    (letter,) = await council.rows(Letter)
    assert (letter.sent_on, letter.method) == (date(2026, 11, 23), "large_print_post")
    again = await universal(council, HAL, "letter.not_appropriate", {"letter": letter.id, "reason": "late"})
    assert "already recorded. Nothing was changed." in texts(again)
    assert (await council.rows(Letter))[0].not_appropriate_reason is None


async def test_the_manager_is_reminded_after_five_working_days_once(council):
    _, card = await _reported(council)
    await _decide_active(council, card)
    await council.deliver()
    from bot.app import SERVICES

    services = council.app[SERVICES]
    council.clock.advance(days=6)  # Sunday 29 November: four working days, and not working hours
    assert await reminders.remind_unsent_letters(services) == 0
    council.clock.advance(days=1)  # Monday 30 November: St Andrew's Day, a Scottish public holiday
    assert await reminders.remind_unsent_letters(services) == 0
    council.clock.advance(days=1)  # Tuesday 1 December, 10:00: five working days
    assert await reminders.remind_unsent_letters(services) == 1
    assert await reminders.remind_unsent_letters(services) == 0
    council.connector.clear()
    await council.deliver()
    (reminder,) = council.connector.to(AMY.chat_id)
    assert "not recorded" in texts(reminder.card)
    assert execute_action(reminder.card, "Record letter sent")["verb"] == "letter.sent_form"
    assert len(await council.rows(OutboxMessage, OutboxMessage.purpose == "letter.reminder")) == 1


async def test_check_tells_front_line_staff_only_what_to_do(council):
    _, card = await _reported(council)
    await _decide_active(council, card)
    (reply,) = await council.say(SAM, "check pat jones TD6 0SA")
    shown = texts(reply.card)
    assert "Do not take calls; ask them to email housing.contact@council.example." in shown
    assert "This never stops the customer reporting an emergency." in shown
    assert "When dealing with Housing" in shown
    assert "Amy Manager (Housing)" in shown
    for private in ("Demanded a reply", "Three calls a day", "Category two", "INC-2026"):
        assert private not in shown
    assert "actions" not in reply.card  # no way in to the full record for staff

    (nobody,) = await council.say(SAM, "check someone else TD6 0SA")
    assert "has active restrictions: deal with them as normal" in texts(nobody.card)

    checks = await council.rows(AuditEvent, AuditEvent.action == "customer.checked")
    assert [(c.record_id, c.detail) for c in checks] == [
        ("1", {"instructions_shown": True}),
        (None, {"matched": 0}),
    ]

    (for_manager,) = await council.say(HAL, "check Pat Jones td60sa")
    record = await open_from(council, HAL, for_manager.card, "Open full record: Pat Jones · postcode TD6 •••")
    assert "Three calls a day" in texts(record.card)
    assert "Restricted: your viewing of this record is logged." in texts(record.card)
    viewed = await council.rows(AuditEvent, AuditEvent.action == "customer.record_viewed")
    assert [(e.actor_id, e.record_id) for e in viewed] == [(viewed[0].actor_id, "1")]

    for outsider in (SAM, WES):
        forged = await submit_dialog(council, outsider, {"verb": "customer.record", "customer": 1})
        assert "You do not have access" in closing_text(forged)
    assert len(await council.rows(AuditEvent, AuditEvent.action == "customer.record_viewed")) == 1


async def test_opening_the_card_is_an_audited_read(council):
    await _reported(council)
    (incident,) = await council.rows(Incident)
    card = await universal(council, HAL, "incident.refresh", {"incident": incident.id}, trigger="automatic")
    assert "Incident INC-2026-00001" in texts(card)
    viewed = await council.rows(AuditEvent, AuditEvent.action == "incident.viewed")
    assert [(e.record_id, e.actor_id is not None) for e in viewed] == [(str(incident.id), True)]


async def test_another_manager_may_be_named_to_review_but_not_just_anyone(council):
    _, card = await _reported(council)
    form = await open_from(council, AMY, card, "Active management")
    reviewers = {c["title"]: c["value"] for c in inputs(form.card)["reviewer"]["choices"]}
    assert set(reviewers) == {"I will", "Hal Manager"}  # managers review; keepers oversee
    (sam,) = await council.rows(PersonRow, PersonRow.email == SAM.email)
    refused = await form.press("Record decision", **ACTIVE, reviewer=str(sam.id))
    assert "Choose the reviewer from the list" in texts(refused)
    await form.press("Record decision", **ACTIVE, reviewer=reviewers["Hal Manager"])
    (restriction,) = await council.rows(Restriction)
    assert str(restriction.reviewer_id) == reviewers["Hal Manager"]


async def test_the_nothing_chosen_choices_have_values_the_form_reads_and_forgeries_do_not_pass(council):
    # Adaptive Cards refuse an empty choice value, so "I will" and "(none)" carry real ones.
    _, card = await _reported(council)
    form = await open_from(council, AMY, card, "Active management")
    await form.press("Add another restriction", **ACTIVE)
    reviewers = {c["title"]: c["value"] for c in inputs(form.card)["reviewer"]["choices"]}
    unused = {c["title"]: c["value"] for c in inputs(form.card)["restriction_2_type"]["choices"]}
    assert reviewers["I will"] and unused["(none)"]
    for forged in ({"reviewer": "someone"}, {"restriction_1_type": unused["(none)"]}):
        refused = await form.press("Record decision", **{**ACTIVE, **forged})
        assert await council.rows(Restriction) == [], forged
        assert "Choose" in texts(refused)
    await form.press(
        "Record decision",
        **ACTIVE,
        reviewer=reviewers["I will"],
        restriction_2_type=unused["(none)"],
    )
    (restriction,) = await council.rows(Restriction)
    (amy,) = await council.rows(PersonRow, PersonRow.email == AMY.email)
    assert restriction.reviewer_id == amy.id


async def test_every_manager_told_of_a_report_is_sent_the_same_card_and_keepers_one_to_oversee(council):
    # A manager who has never opened the bot cannot be reached, so the register keeper is told too.
    await council.import_roles(
        ROLES.replace(
            '"hal.manager@council.example"]', '"hal.manager@council.example", "new.manager@council.example"]'
        )
    )
    reference = await report(council, SAM)
    await council.deliver()
    sent = {s.conversation_id: s.card for s in council.connector.sent if s.method == "POST"}
    cards = [sent[who.chat_id] for who in (AMY, HAL, KIM)]
    assert cards[0] == cards[1]
    assert f"Incident {reference}" in texts(cards[0]) and f"Incident {reference}" in texts(cards[2])
    dialog_button(cards[0], "No further action")  # each manager may decide
    dialog_button(cards[2], "Name a manager to decide")  # the keeper oversees
    with pytest.raises(AssertionError):
        dialog_button(cards[2], "No further action")


async def test_a_decision_writes_its_audit_events_in_order_and_the_chain_verifies(council):
    _, card = await _reported(council)
    await _decide_active(council, card)
    async with council.sessions() as session:
        checked, broken = await audit.verify(session)
    assert broken is None
    events = sorted(await council.rows(AuditEvent), key=lambda e: e.seq)
    assert checked == len(events)
    actions = [e.action for e in events]
    added = actions.index("customer.added")
    assert actions[added : added + 2] == ["customer.added", "incident.reported"]
    assert actions[-2:] == ["decision.recorded", "restriction.applied"]
    (restriction,) = await council.rows(Restriction)
    assert events[-1].record_id == str(restriction.id)


async def test_every_copy_of_the_card_is_replaced_by_one_showing_the_new_restriction(council):
    _, card = await _reported(council)
    decided = await _decide_active(council, card)
    updates = [s.card for s in council.connector.sent if s.method == "PUT"]
    assert len(updates) == 2
    assert updates[0] == updates[1]
    for shown in (texts(updates[0]), texts(decided)):
        assert "Decided: Active management" in shown
        assert "Restricting contact to named channels · active · From" in shown  # in the history too


async def test_an_automatic_refresh_while_the_form_is_open_loses_nothing_typed(council):
    # Teams refreshes the card by itself (a chat switch, another copy updated): the form is in a
    # dialog, which the refresh answer cannot replace, and its submit still records the decision.
    _, card = await _reported(council)
    (incident,) = await council.rows(Incident)
    # Cancel closes a dialog without a word and records nothing.
    other = await open_from(council, HAL, card, "No further action")
    assert await other.press("Cancel", reasons="Changed my mind.") is None and other.closing_message is None
    form = await open_from(council, AMY, card, "Active management")
    typed = await form.press("Add another restriction", **ACTIVE)
    refresh = card["refresh"]["action"]
    refreshed = await universal(council, AMY, refresh["verb"], refresh["data"], trigger="automatic")
    assert "Incident INC-2026-00001" in texts(refreshed)
    assert council.connector.sent == []  # nothing sent or updated: the dialog is untouched
    assert form.card is typed
    await form.press("Record decision")  # with what was typed before the refresh
    assert "Decided: Active management" in closing_text(form)
    (decision,) = await council.rows(Decision)
    assert decision.reasons == ACTIVE["reasons"]
    assert (await council.rows(Incident))[0].status == "decided" and incident.id == decision.incident_id
    updated = await latest_card(council, AMY)
    assert "Decided: Active management" in texts(updated)


async def test_open_full_record_leaves_the_card_as_it_was_and_shows_the_record_in_a_dialog(council):
    _, card = await _reported(council)
    before = json.dumps(card)
    status, answer = await council.invoke(
        AMY, "task/fetch", {"data": dialog_button(card, "Open full record"), "context": {"theme": "default"}}
    )
    assert status == 200
    assert answer["task"]["type"] == "continue"  # a dialog, not a replacement card
    record = answer["task"]["value"]["card"]["content"]
    assert "Customer record" in texts(record) and "Pat Jones" in texts(record)
    assert "Restricted: your viewing of this record is logged." in texts(record)
    assert council.connector.sent == []  # the manager's card is not updated
    assert json.dumps(card) == before
    viewed = await council.rows(AuditEvent, AuditEvent.action == "customer.record_viewed")
    assert len(viewed) == 1
    # The card still decides: its buttons open their forms as before.
    form = await open_from(council, AMY, card, "No further action")
    assert "Reasons for this decision" in texts(form.card)


async def test_log_an_appeal_on_the_card_opens_a_dialog_and_leaves_the_card(council):
    _, card = await _reported(council)
    decided = await _decide_active(council, card)
    council.connector.clear()
    form = await open_from(council, AMY, decided, "Log an appeal")
    assert "Log an appeal on INC-2026-00001" in texts(form.card)
    assert council.connector.sent == []
    await form.press(
        "Log appeal", against=appeal_choice(form.card, "decision"), grounds="It was not me calling."
    )
    assert "Logged. The appeal goes to" in closing_text(form)
    # The decided card is not replaced by the appeal: only the hearing body is sent one.
    await council.deliver()
    assert [s for s in council.connector.to(AMY.chat_id) if s.method == "PUT"] == []


async def test_the_customers_preferred_format_and_language_are_recorded_and_every_letter_follows_them(
    council,
):
    _, card = await _reported(council)
    form = await open_from(council, AMY, card, "Active management")
    assert inputs(form.card)["letter_format"]["value"] == "standard"
    refused = await form.press("Record decision", **ACTIVE, letter_format="other")
    assert "Say which format the customer asked for, such as Braille or audio" in texts(refused)
    assert (
        await form.press("Record decision", **ACTIVE, letter_format="large_print", language="Polish") is None
    )
    (customer,) = await council.rows(Customer)
    assert (customer.letter_format, customer.language) == ("large_print", "Polish")
    decided = await latest_card(council, AMY)
    record = await submit_dialog(council, AMY, {"verb": "customer.record", "customer": customer.id})
    assert "Large print in Polish" in texts(record.card)

    # The ordinary download is in large print, and whoever sends is told to arrange the translation.
    ready = await press_execute(council, AMY, decided, "Download letter")
    assert "Your large print letter is ready." in texts(ready)
    assert "arrange a translation before sending" in texts(ready) and "Polish" in texts(ready)
    (link,) = [a for a in _walk_actions(ready) if a.get("type") == "Action.OpenUrl"]
    status, body = await _download(council, _local(council, link["url"]))
    sizes = {r.font.size.pt for p in Document(io.BytesIO(body)).paragraphs for r in p.runs if r.text.strip()}
    assert status == 200 and min(sizes) >= 16

    # The next decision's form shows what is recorded, for the manager to confirm or change.
    _, again = await _reported(council, customer={"customer_query": "pat jones TD6 0SA", "customer_id": "1"})
    form = await open_from(council, AMY, again, "Restorative approach")
    shown = inputs(form.card)
    assert (shown["letter_format"]["value"], shown["language"]["value"]) == ("large_print", "Polish")


async def test_a_forged_format_or_language_too_long_for_the_record_is_refused_not_stored(council):
    _, card = await _reported(council)
    form = await open_from(council, AMY, card, "Active management")
    refused = await form.press(
        "Record decision", **ACTIVE, letter_format="other", letter_format_detail="B" * 300, language="P" * 61
    )
    assert "Keep this to 200 characters" in texts(refused) and "Keep this to 60 characters" in texts(refused)
    assert await council.rows(Decision) == []
