"""Appeals routed to the right body: the review group's channel, the Chief Executive, complaints."""

import io
import json
from datetime import UTC, date, datetime

import pytest
from docx import Document

from bot.app import SERVICES
from dialogs import appeals, review_channel
from storage.models import (
    Appeal,
    AppealedRestriction,
    AuditEvent,
    Decision,
    Letter,
    OutboxMessage,
    Restriction,
    Review,
)
from tests.support import teams
from tests.support.dialog import (
    Dialog,
    appeal_choice,
    closing_text,
    inputs,
    latest_card,
    log_appeal,
    open_from,
    press_execute,
    submit_dialog,
    texts,
    universal,
)
from tests.support.harness import BotHarness
from tests.support.reporting import report
from tests.support.teams import AMY, CATH, CERI, CHIEF, KIM, SAM, Person
from tests.test_decide import ACTIVE, _download, _local, _walk_actions

DEV = Person.called("Dev Panel", "dev.panel@council.example")
ELLE = Person.called("Elle Member", "elle.member@council.example")
COL = Person.called("Col Complaints", "col.complaints@council.example")  # a senior officer for Stage 2
TEAM = "19:team-crg@thread.tacv2"
CHANNEL = "19:crg-appeals@thread.tacv2"
ROLES = """
[service_areas.housing]
name = "Housing"
managers = ["amy.manager@council.example"]

[roles]
complaints_review_group = [
    "ceri.panel@council.example", "dev.panel@council.example", "amy.manager@council.example",
]
chief_executive = ["chief.exec@council.example"]
complaints_team = ["cath.complaints@council.example", "col.complaints@council.example"]
register_keepers = ["kim.keeper@council.example"]
elected_members = ["elle.member@council.example"]
"""


@pytest.fixture
async def council(database_url, connector, clock):
    bot = BotHarness(database_url, connector, clock)
    await bot.start()
    await bot.import_roles(ROLES)
    for person in (AMY, CERI, DEV, CHIEF, CATH, KIM, SAM, ELLE, COL):
        await bot.say(person, "hi")
    bot.meet(KIM)
    connector.teams[TEAM] = [KIM.teams_id, CERI.teams_id, DEV.teams_id]  # the group's own team
    status, _ = await bot.post(
        teams.channel_message(
            KIM, connector.url, "set review group channel", team_id=TEAM, channel_id=CHANNEL
        )
    )
    assert status == 201
    assert (
        "Done: appeals to the Complaints Review Group will be posted in this channel"
        in connector.sent[-1].text
    )
    connector.clear()
    yield bot
    await bot.stop()


async def _restricted(council, reporter=SAM) -> str:
    reference = await report(council, reporter)
    await council.deliver()
    (notice,) = [s for s in council.connector.to(AMY.chat_id) if s.method == "POST"]
    form = await open_from(council, AMY, notice.card, "Active management")
    assert await form.press("Record decision", **ACTIVE) is None
    await council.deliver()
    council.connector.clear()
    return reference


_log = log_appeal  # `appeal INC-...`, then the form in its dialog; what it said or still shows


async def _outcome_form(council, who, appeal_id: int, outcome: str) -> Dialog:
    return await submit_dialog(
        council, who, {"verb": "appeal.outcome_form", "appeal": appeal_id, "outcome": outcome}
    )


GROUNDS = "I only called so often because nobody answered my repairs complaint."


async def test_a_managers_decision_goes_to_the_review_group_as_a_new_thread(council):
    reference = await _restricted(council)
    logged = await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    # 20 working days from the letter, less St Andrew's Day (Monday 30 November in Scotland).
    assert (
        "Logged. The appeal goes to the Complaints Review Group. Its outcome is due by Tue 22 Dec 2026."
        in logged
    )
    (appeal,) = await council.rows(Appeal)
    (decision,) = await council.rows(Decision)
    assert (appeal.route, appeal.against, appeal.step, appeal.late, appeal.status) == (
        "complaints_review_group",
        "decision",
        f"decision:{decision.id}",
        False,
        "open",
    )
    assert (appeal.time_limit_on, appeal.respond_by) == (date(2026, 12, 22), date(2026, 12, 22))
    await council.deliver()
    (thread,) = [s for s in council.connector.sent if s.method == "THREAD"]
    assert thread.conversation_id == CHANNEL
    shown = texts(thread.card)
    for expected in (
        f"Appeal on {reference}",
        "Appeals consider only the arguments about the restrictions.",
        "Active management",
        "Three calls a day for a month",  # the decision's reasons
        "Restricting contact to named channels: Email to housing.contact@council.example only.",
        GROUNDS,
        "1 active restriction(s), 1 in all",
        "Tue 22 Dec 2026",  # the time limit and the outcome's due day
    ):
        assert expected in shown, expected
    assert [a["title"] for a in thread.card["actions"]] == [
        "Not upheld (confirm the decision)",
        "Partly upheld (vary the restrictions)",
        "Upheld (overturn the decision)",
    ]


def _in_channel(council) -> list:
    return [s for s in council.connector.sent if s.conversation_id.startswith(CHANNEL)]


async def test_a_clean_roster_is_read_before_posting_and_a_burst_reads_it_once(council):
    first, second = await _restricted(council), await _restricted(council)
    council.connector.roster_reads.clear()
    await _log(council, CATH, first, against="decision", grounds=GROUNDS)
    await _log(council, CATH, second, against="decision", grounds=GROUNDS)
    await council.deliver()
    threads = [s for s in _in_channel(council) if s.method == "THREAD"]
    assert [t.conversation_id for t in threads] == [CHANNEL, CHANNEL]
    assert council.connector.roster_reads == [TEAM]  # once for the burst, within a minute
    for member in (CERI, DEV, AMY):
        assert not any(GROUNDS in texts(s.card) for s in council.connector.to(member.chat_id) if s.card)


@pytest.mark.parametrize("change", ["stranger joins", "roster unavailable"])
async def test_an_appeal_is_withheld_from_a_channel_whose_team_gained_a_stranger(council, change):
    reference = await _restricted(council)
    if change == "stranger joins":
        council.meet(SAM)  # staff, on neither the group nor the keepers
        council.connector.teams[TEAM].append(SAM.teams_id)
    else:
        del council.connector.teams[TEAM]  # Teams answers 404 for its members
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    await council.deliver()

    assert _in_channel(council) == []
    for member in (CERI, DEV, AMY):  # the whole group, each in their own chat
        (copy,) = [s for s in council.connector.to(member.chat_id) if s.card]
        assert f"Appeal on {reference}" in texts(copy.card) and GROUNDS in texts(copy.card)
    assert not any(GROUNDS in json.dumps(s.activity) for s in council.connector.to(SAM.chat_id))
    (told,) = [s for s in council.connector.to(KIM.chat_id) if s.card]
    assert review_channel.UNTRUSTED_NOTICE in texts(told.card)  # and no "could not be delivered"

    (withheld,) = await council.rows(
        OutboxMessage, OutboxMessage.channel_id == CHANNEL, OutboxMessage.purpose == appeals.POSTED
    )
    assert (withheld.status, withheld.last_error) == ("failed", review_channel.WITHHELD)
    (event,) = await council.rows(AuditEvent, AuditEvent.action == "appeals.channel_withheld")
    why = {"outsiders": 1} if change == "stranger joins" else {"roster": "unavailable"}
    assert (event.record_type, event.record_id, event.detail) == (
        "outbox",
        str(withheld.id),
        {**why, "members": 3},
    )

    # Until a keeper sets it again, even a roster clean once more gets no appeal.
    council.connector.teams[TEAM] = [KIM.teams_id, CERI.teams_id, DEV.teams_id]
    council.connector.clear()
    again = await _restricted(council)
    await _log(council, CATH, again, against="decision", grounds=GROUNDS)
    await council.deliver()
    assert _in_channel(council) == []
    assert [s for s in council.connector.to(CERI.chat_id) if s.card]
    assert not [s for s in council.connector.to(KIM.chat_id) if s.card]  # told once
    status, _ = await council.post(
        teams.channel_message(
            KIM, council.connector.url, "set review group channel", team_id=TEAM, channel_id=CHANNEL
        )
    )
    assert status == 201 and "Done" in council.connector.sent[-1].text
    council.connector.clear()
    last = await _restricted(council)
    await _log(council, CATH, last, against="decision", grounds=GROUNDS)
    await council.deliver()
    assert [s.method for s in _in_channel(council)] == ["THREAD"]


async def test_the_panel_records_the_outcome_and_the_register_and_letter_follow(council):
    reference = await _restricted(council)
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    await council.deliver()
    (thread,) = [s for s in council.connector.sent if s.method == "THREAD"]
    council.connector.clear()

    # Amy decided, so she may not hear it, even as a panel member.
    refused = await open_from(council, AMY, thread.card, "Upheld (overturn the decision)")
    assert "You took part in the decision or the report" in closing_text(refused)
    form = await open_from(council, CERI, thread.card, "Upheld (overturn the decision)")
    empty = await form.press("Record outcome")
    assert "Give the reasons for the outcome" in texts(empty)
    await form.press(
        "Record outcome",
        reasons="Calls were about an unanswered complaint.",
        customer_explanation="Your calls were about a complaint we had not yet answered.",
    )
    assert "Upheld: the decision is overturned. Recorded by Ceri Panel" in closing_text(form)
    (restriction,) = await council.rows(Restriction)
    assert (restriction.status, restriction.ended_reason) == ("lifted", "Lifted: the appeal was upheld")
    (appeal,) = await council.rows(Appeal)
    assert (appeal.status, appeal.outcome) == ("decided", "upheld")
    assert [
        e.detail["outcome"] for e in await council.rows(AuditEvent, AuditEvent.action == "appeal.outcome")
    ] == ["upheld"]

    await council.deliver()
    (update,) = [
        s for s in council.connector.sent if s.method == "PUT" and s.conversation_id.startswith(CHANNEL)
    ]
    done = update.card  # the thread's first message, replaced for everyone in the channel
    assert update.conversation_id.startswith(f"{CHANNEL};messageid=")
    assert "Upheld: the decision is overturned. Recorded by Ceri Panel" in texts(update.card)
    # The logger and the manager who decided hear the outcome and its reasons; the reporter the
    # outcome alone; the manager's card shows the restriction lifted.
    for person in (CATH, AMY):
        (told,) = [s for s in council.connector.to(person.chat_id) if s.method == "POST"]
        assert f"Appeal on {reference}: Upheld: the decision is overturned" in texts(told.card)
        assert "Calls were about an unanswered complaint." in texts(told.card)
    (reporter_told,) = [s for s in council.connector.to(SAM.chat_id) if s.method == "POST"]
    assert "Upheld: the decision is overturned" in texts(reporter_told.card)
    assert "unanswered complaint" not in texts(reporter_told.card)
    (managers_card,) = [s for s in council.connector.to(AMY.chat_id) if s.method == "PUT"]
    assert "Lifted" in texts(managers_card.card) and "the appeal was upheld" in texts(managers_card.card)

    again = await open_from(council, DEV, thread.card, "Not upheld (confirm the decision)")
    assert "already recorded. Nothing was changed." in closing_text(again)

    ready = await press_execute(council, CERI, done, "Download outcome letter")
    (link,) = [a for a in _walk_actions(ready) if a.get("type") == "Action.OpenUrl"]
    status, body = await _download(council, _local(council, link["url"]))
    words = "\n".join(p.text for p in Document(io.BytesIO(body)).paragraphs)
    assert status == 200
    assert "The outcome of your appeal" in words
    assert "We have upheld your appeal. We have overturned the decision you appealed against." in words
    assert "Your calls were about a complaint we had not yet answered." in words
    assert "Calls were about an unanswered complaint." not in words  # the panel's own note
    assert "What no longer applies" in words and "How long this will last" not in words
    assert "the Chief Executive" not in words  # nothing is left to appeal
    # A panel member's name is printed, as no restriction protects staff; the group signs.
    assert "Ceri Panel\nfor the Complaints Review Group" in words
    assert "Scottish Public Services Ombudsman (SPSO)" in words

    form = await press_execute(council, CERI, done, "Record letter sent")
    bad = await press_execute(council, CERI, form, "Record", sent_on="2030-01-01", method="post")
    assert "The date must be between the decision and today" in texts(bad)
    forged = await press_execute(council, AMY, form, "Record", sent_on="2026-11-23", method="email")
    assert "Only the body hearing the appeal and the register keepers do." in texts(forged)  # Amy decided
    recorded = await press_execute(council, CERI, form, "Record", sent_on="2026-11-23", method="email")
    assert "Record letter sent" not in [a.get("title") for a in recorded.get("actions", [])]
    (letter,) = await council.rows(Letter, Letter.kind == "appeal_outcome")
    assert (letter.sent_on, letter.method) == (date(2026, 11, 23), "email")
    assert "Complaints Review Group" in words


async def test_varied_on_appeal_replaces_the_restriction(council):
    reference = await _restricted(council)
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    (appeal,) = await council.rows(Appeal)
    form = await _outcome_form(council, CERI, appeal.id, "partly_upheld")
    unchanged = await form.press("Record outcome", reasons="Email only is right.")
    assert "Partly upheld varies the decision: change at least one restriction" in texts(unchanged)
    assert len(await council.rows(Restriction)) == 1
    await form.press(
        "Record outcome",
        reasons="Email only is too strict.",
        restriction_1_type="limit_time_volume_topics",
        restriction_1_details="One call a week.",
        restriction_1_frontline_instructions="Take one call a week.",
    )
    assert "Partly upheld: the decision is varied. Recorded by Ceri Panel" in closing_text(form)
    old, new = sorted(await council.rows(Restriction), key=lambda r: r.id)
    assert (old.status, new.status, new.replaces_id, new.details) == (
        "varied",
        "active",
        old.id,
        "One call a week.",
    )


async def _letter_words(council, who, card, title="Download outcome letter") -> str:
    ready = await press_execute(council, who, card, title)
    (link,) = [a for a in _walk_actions(ready) if a.get("type") == "Action.OpenUrl"]
    status, body = await _download(council, _local(council, link["url"]))
    assert status == 200
    return "\n".join(p.text for p in Document(io.BytesIO(body)).paragraphs)


def _latest_card(council, person):
    return [s for s in council.connector.to(person.chat_id) if s.card][-1].card


async def test_a_complaint_about_an_immediate_action_goes_through_both_stages_then_the_spso(council):
    reference = await report(council, SAM)  # Sam ended the contact
    await council.deliver()
    council.connector.clear()
    # Seven weeks on is well within the complaints procedure's six months.
    council.clock.now = datetime(2027, 1, 11, 10, tzinfo=UTC)
    logged = await _log(
        council,
        CATH,
        reference,
        against="immediate_action",
        grounds="She hung up on me.",
        received_on="2027-01-11",
    )
    assert (
        "Logged. The complaint goes to the complaints handling procedure at Stage 1 (frontline response). "
        "Its outcome is due by Mon 18 Jan 2027." in logged
    )
    (stage1,) = await council.rows(Appeal)
    assert (stage1.stage, stage1.late, stage1.time_limit_on) == (1, False, date(2027, 5, 23))
    await council.deliver()
    (posted,) = [
        s
        for s in council.connector.to(CATH.chat_id)
        if s.activity.get("summary", "").startswith("Complaint on")
    ]
    shown = texts(posted.card)
    assert "Against an employee's immediate action (ending the contact)" in shown
    assert "Stage 1 (frontline response)" in shown
    assert "restriction" not in " ".join(a["title"] for a in posted.card["actions"]).lower()
    assert [s for s in council.connector.sent if s.method == "THREAD"] == []
    refused = await open_from(council, SAM, posted.card, "Not upheld")
    assert "Only the body hearing the appeal and the register keepers do." in closing_text(refused)
    form = await open_from(council, CATH, posted.card, "Not upheld")
    await form.press("Record outcome", reasons="Ending the call was reasonable after the abuse.")
    assert "Not upheld. Recorded by Cath Complaints" in closing_text(form)
    await council.deliver()
    done = [s for s in council.connector.to(CATH.chat_id) if s.method == "PUT"][-1].card
    words = await _letter_words(council, CATH, done)
    assert "Our response to your complaint (Stage 1)" in words
    assert "Stage 1 (frontline response) of our complaints handling procedure" in words
    assert "We have not upheld your complaint." in words
    assert "restriction" not in words.lower().replace("restricted-access", "")
    # Stage 2 may be asked for within six months of the action (or two of this response, if later).
    assert "again at Stage 2 of our complaints handling procedure" in words and "by 23 May 2027" in words
    assert "Ombudsman" not in words  # the SPSO comes after Stage 2
    # The employee whose action it was hears the outcome alone.
    (told,) = [s for s in council.connector.to(SAM.chat_id) if s.method == "POST"]
    assert "Complaint on" in texts(told.card) and "reasonable after the abuse" not in texts(told.card)

    # The customer stays dissatisfied: the complaints team takes it to Stage 2 from the card.
    escalate = await open_from(council, CATH, done, "Customer still dissatisfied: Stage 2")
    assert inputs(escalate.card)["against"]["value"] == f"appeal:{stage1.id}"
    await escalate.press("Log appeal", grounds="Nobody listened at Stage 1.")
    assert "at Stage 2 (investigation). Its outcome is due by Mon 8 Feb 2027." in closing_text(escalate)
    stage2 = (await council.rows(Appeal, Appeal.stage == 2))[0]
    assert stage2.previous_appeal_id == stage1.id
    await council.deliver()
    posted2 = [s for s in council.connector.to(COL.chat_id) if s.method == "POST" and s.card][-1]
    assert "Stage 1 outcome" in texts(posted2.card)
    # Stage 2 is heard by someone who took no part at Stage 1.
    refused = await open_from(council, CATH, posted2.card, "Partly upheld")
    assert "You took part in the decision or the report" in closing_text(refused)
    form = await open_from(council, COL, posted2.card, "Partly upheld")
    await form.press("Record outcome", reasons="The call could have been ended more politely.")
    await council.deliver()
    done2 = [s for s in council.connector.to(COL.chat_id) if s.method == "PUT"][-1].card
    words = await _letter_words(council, COL, done2)
    assert "Stage 2 (investigation), the last stage of our complaints handling procedure" in words
    assert "We have partly upheld your complaint." in words
    assert "Scottish Public Services Ombudsman (SPSO)" in words
    assert "Customer still dissatisfied: Stage 2" not in [a.get("title") for a in done2.get("actions", [])]

    # Beyond Stage 2 nothing is heard here: recorded, with a letter naming the SPSO.
    refused = await _log(council, CATH, reference, against=f"appeal:{stage2.id}", grounds="Still unhappy.")
    assert "The complaints handling procedure is finished at Stage 2" in refused
    last = (await council.rows(Appeal, Appeal.status == "not_heard"))[0]
    assert (last.route, last.not_heard) == (None, "stage_two_done")


async def test_asking_to_leave_the_premises_can_be_complained_about_and_a_late_one_is_flagged(council):
    reference = await report(council, SAM, action={"ended_contact": "false", "left_premises": "true"})
    council.clock.now = datetime(2027, 6, 1, 10, tzinfo=UTC)  # over six months after the action
    (reply,) = await council.say(CATH, f"appeal {reference}")
    form = await open_from(council, CATH, reply.card, "Log an appeal")
    (choice,) = inputs(form.card)["against"]["choices"]
    assert "asked them to leave the premises" in choice["title"]
    assert "the time limit passed on Sun 23 May 2027" in choice["title"]
    await form.press("Log appeal", against=choice["value"], grounds="I was only asking.")
    assert "It is late: received Tue 1 Jun 2027, after the time limit of Sun 23 May 2027" in closing_text(
        form
    )


async def test_an_elected_members_action_is_not_appealable_and_a_letter_says_where_else_to_go(council):
    reference = await report(council, ELLE)
    logged = await _log(
        council, CATH, reference, against="immediate_action", grounds="The councillor walked out."
    )
    assert "The appeal process does not apply to action taken by elected members" in logged
    (appeal,) = await council.rows(Appeal)
    assert (appeal.status, appeal.route, appeal.not_heard) == ("not_heard", None, "elected_member")
    (event,) = await council.rows(AuditEvent, AuditEvent.action == "appeal.not_heard")
    assert event.detail["reason"] == "elected_member"
    assert "walked out" not in json.dumps(event.detail)  # no free text in the trail
    await council.deliver()
    card_ = _latest_card(council, CATH)
    assert "The appeal process does not apply to action taken by elected members." in texts(card_)
    words = await _letter_words(council, CATH, card_, "Download letter")
    assert "does not apply to action taken by elected members" in words
    assert "Ethical Standards Commissioner" in words and "Ombudsman" in words
    refused = await press_execute(council, SAM, card_, "Download letter")
    assert "Only the body hearing the appeal and the register keepers do." in texts(refused)


async def test_an_elected_member_is_judged_by_the_role_held_when_they_acted(council):
    # Elle reported as an elected member; Sam as staff. Then Elle leaves the council and Sam is elected.
    by_member = await report(council, ELLE)
    by_staff = await report(council, SAM)
    await council.import_roles(
        ROLES.replace(
            'elected_members = ["elle.member@council.example"]',
            'elected_members = ["sam.staff@council.example"]',
        )
    )
    assert "does not apply to action taken by elected members" in await _log(
        council, CATH, by_member, against="immediate_action", grounds="Walked out."
    )
    assert "Logged. The complaint goes to the complaints handling procedure" in await _log(
        council, CATH, by_staff, against="immediate_action", grounds="Hung up."
    )


async def test_the_review_groups_decision_goes_to_the_chief_executive_and_no_further(council):
    reference = await _restricted(council)
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    (first,) = await council.rows(Appeal)
    form = await _outcome_form(council, CERI, first.id, "not_upheld")
    await form.press("Record outcome", reasons="The restriction is proportionate.")
    await council.deliver()
    council.connector.clear()

    logged = await _log(
        council, CATH, reference, against=f"appeal:{first.id}", grounds="The panel did not listen."
    )
    assert "Logged. The appeal goes to the Chief Executive." in logged
    await council.deliver()
    (posted,) = council.connector.to(CHIEF.chat_id)
    assert "Review group outcome" in texts(posted.card)
    assert "Not upheld: the decision is confirmed" in texts(posted.card)
    refused = await open_from(council, CERI, posted.card, "Not upheld (confirm the decision)")
    assert "Only the body hearing the appeal and the register keepers do." in closing_text(refused)
    council.connector.clear()
    form = await open_from(council, CHIEF, posted.card, "Not upheld (confirm the decision)")
    await form.press("Record outcome", reasons="I agree with the panel.")
    second = (await council.rows(Appeal, Appeal.route == "chief_executive"))[0]
    assert second.outcome == "not_upheld"
    await council.deliver()
    # The group hears, in the thread where it heard the appeal, what became of its decision.
    (in_thread,) = [s for s in _in_channel(council) if s.method == "POST"]
    assert in_thread.conversation_id.startswith(f"{CHANNEL};messageid=")  # in the group's thread
    assert "Not upheld: the decision is confirmed" in texts(in_thread.card)
    letter_card = [s for s in council.connector.to(CHIEF.chat_id) if s.method == "PUT"][-1].card
    words = await _letter_words(council, CHIEF, letter_card)
    assert "Scottish Public Services Ombudsman (SPSO)" in words and "within 12 months" in words
    assert "last stage of appeal within the council" in words and "If you disagree" not in words

    refused = await _log(council, CATH, reference, against=f"appeal:{second.id}", grounds="Still unhappy.")
    assert "no further internal appeal against the Chief Executive's decision" in refused
    assert [a.status for a in await council.rows(Appeal)] == ["decided", "decided", "not_heard"]


async def test_refusals_store_nothing(council):
    reference = await report(council, SAM)
    # No decision yet: only the immediate action can be appealed; a forged "decision" is refused.
    refused = await _log(council, CATH, reference, against="decision:1", grounds=GROUNDS)
    assert "Choose what is appealed from the list" in refused
    refused = await _log(council, CATH, reference, against="appeal:1", grounds=GROUNDS)
    assert "Choose what is appealed from the list" in refused
    refused = await _log(
        council, CATH, reference, against="immediate_action", grounds="", received_on="2027-01-01"
    )
    assert "The date received cannot be in the future" in refused
    assert "Record the grounds of the appeal, in the customer's words" in refused
    (reply,) = await council.say(SAM, f"appeal {reference}")
    assert (
        "Appeals are logged by the complaints team, the service's managers and the register keepers."
        in reply.text
    )
    assert await council.rows(Appeal) == []


async def test_a_second_open_appeal_on_the_same_decision_is_refused(council):
    reference = await _restricted(council)
    (reply,) = await council.say(KIM, f"appeal {reference}")
    stale = await open_from(council, KIM, reply.card, "Log an appeal")  # opened before Cath logs
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    again = await stale.press("Log appeal", grounds="Again.")
    assert "There is already an open appeal on this, logged Mon 23 Nov 2026. Nothing was stored." in texts(
        again
    )
    assert len(await council.rows(Appeal)) == 1
    (reply,) = await council.say(KIM, f"appeal {reference}")
    fresh = await open_from(council, KIM, reply.card, "Log an appeal")
    offered = [c["value"] for c in inputs(fresh.card)["against"]["choices"]]
    assert [v.split(":")[0] for v in offered] == ["immediate_action"]  # the decision is under appeal


async def test_a_late_appeal_is_logged_with_a_warning(council):
    reference = await _restricted(council)
    council.clock.now = datetime(2027, 1, 15, 10, tzinfo=UTC)
    logged = await _log(
        council, CATH, reference, against="decision", grounds=GROUNDS, received_on="2027-01-14"
    )
    assert "It is late: received Thu 14 Jan 2027, after the time limit of Tue 22 Dec 2026" in logged
    (appeal,) = await council.rows(Appeal)
    assert appeal.late
    await council.deliver()
    (thread,) = [s for s in council.connector.sent if s.method == "THREAD"]
    assert "Late: received after the time limit. The Complaints Review Group may still accept it." in texts(
        thread.card
    )


async def test_the_thread_is_reminded_when_no_outcome_comes_in_time(council):
    reference = await _restricted(council)
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    await council.deliver()
    (thread,) = [s for s in council.connector.sent if s.method == "THREAD"]
    services = council.app[SERVICES]
    council.clock.now = datetime(2026, 12, 21, 10, tzinfo=UTC)  # 19 working days (St Andrew's Day)
    assert await appeals.sweep_outcome_reminders(services) == 0
    council.clock.now = datetime(2026, 12, 22, 10, tzinfo=UTC)  # 20 working days
    assert await appeals.sweep_outcome_reminders(services) == 1
    assert await appeals.sweep_outcome_reminders(services) == 0
    council.connector.clear()
    await council.deliver()
    (reply,) = council.connector.sent
    assert reply.method == "POST"
    assert reply.conversation_id.startswith(f"{CHANNEL};messageid=")  # in the thread, not a new one
    assert thread.method == "THREAD"
    assert "No outcome recorded yet" in texts(reply.card)
    assert len(await council.rows(OutboxMessage, OutboxMessage.purpose == "appeal.reminder")) == 1


async def test_only_register_keepers_set_the_channel(council):
    status, _ = await council.post(
        teams.channel_message(
            SAM,
            council.connector.url,
            "set review group channel",
            team_id=TEAM,
            channel_id="19:other@thread.tacv2",
        )
    )
    assert status == 201
    assert "Only some roles may use" in council.connector.sent[-1].text
    (reply,) = await council.say(KIM, "set review group channel")
    assert "in the Complaints Review Group's channel itself" in reply.text


async def test_two_people_logging_the_same_appeal_at_once_store_one(council):
    import asyncio

    reference = await _restricted(council)
    (form_cath,) = await council.say(CATH, f"appeal {reference}")
    (form_kim,) = await council.say(KIM, f"appeal {reference}")
    forms = [
        await open_from(council, CATH, form_cath.card, "Log an appeal"),
        await open_from(council, KIM, form_kim.card, "Log an appeal"),
    ]
    chosen = appeal_choice(forms[0].card, "decision")
    await asyncio.gather(*(f.press("Log appeal", against=chosen, grounds=GROUNDS) for f in forms))
    assert len(await council.rows(Appeal)) == 1
    answers = [closing_text(f) for f in forms]
    assert sum("Logged. The appeal goes to" in a for a in answers) == 1
    assert sum("There is already an open appeal on this" in a for a in answers) == 1


async def test_after_the_review_group_decides_the_managers_decision_is_not_heard_again(council):
    reference = await _restricted(council)
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    (first,) = await council.rows(Appeal)
    form = await _outcome_form(council, CERI, first.id, "not_upheld")
    await form.press("Record outcome", reasons="Proportionate.")
    (reply,) = await council.say(CATH, f"appeal {reference}")
    log = await open_from(council, CATH, reply.card, "Log an appeal")
    offered = [c["value"] for c in inputs(log.card)["against"]["choices"]]
    assert offered == [f"appeal:{first.id}", "immediate_action:1"]  # newest first; not the decision
    refused = await log.press("Log appeal", against=first.step, grounds="Again.")
    assert "This has been heard: appeal against the outcome instead" in texts(refused)
    assert len(await council.rows(Appeal)) == 1


async def test_a_varied_outcome_must_set_out_every_appealed_restriction(council):
    reference = await _restricted(council)
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    (appeal,) = await council.rows(Appeal)
    form = await _outcome_form(council, CERI, appeal.id, "partly_upheld")
    refused = await form.press("Record outcome", reasons="x", restriction_1_type="")
    assert "Choose a restriction from the policy's list" in texts(refused)
    forged = await submit_dialog(
        council, CERI, {"verb": "appeal.outcome", "appeal": appeal.id, "outcome": ["partly_upheld"]}
    )
    assert "That is not an appeal outcome." in closing_text(forged)
    assert (await council.rows(Appeal))[0].status == "open"


VARIED = {
    "restriction_1_type": "limit_time_volume_topics",
    "restriction_1_details": "One call a week, 20 minutes.",
    "restriction_1_scope": "service",
    "restriction_1_frontline_instructions": "Take one call a week.",
    "restriction_1_starts_on": "2027-05-20",
    "restriction_1_review_due_on": "2027-11-19",
    "restriction_1_no_review": "false",
    "needs_considered": "yes",
    "needs_considered_note": "No support needs known; a weekly call suits them.",
}


async def _review(council, who, outcome: str, **more) -> str:
    (r,) = await council.rows(Restriction, Restriction.status == "active")
    data = {
        "verb": "review.submit",
        "restriction": r.id,
        "outcome": outcome,
        "due": r.review_due_on.isoformat(),
        "reasons": "Calls are calmer.",
        "notify_customer": "no",
        **more,
    }
    return closing_text(await submit_dialog(council, who, data))


async def _sent(council, who, letter: Letter, on: str) -> None:
    await universal(council, who, "letter.sent", {"letter": letter.id, "sent_on": on, "method": "post"})
    (recorded,) = await council.rows(Letter, Letter.id == letter.id)
    assert recorded.sent_on == date.fromisoformat(on)


async def test_a_variation_and_a_reinstatement_are_new_decisions_for_the_group_on_their_own_clock(council):
    reference = await _restricted(council)
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    (first,) = await council.rows(Appeal)
    form = await _outcome_form(council, CERI, first.id, "not_upheld")
    await form.press("Record outcome", reasons="Proportionate.")

    # May: Amy's review varies the restriction; its letter goes on Monday 24 May.
    council.clock.now = datetime(2027, 5, 20, 10, tzinfo=UTC)
    assert "Varied by Amy Manager" in await _review(council, AMY, "vary", **VARIED)
    (letter,) = await council.rows(Letter, Letter.kind == "variation")
    council.clock.now = datetime(2027, 5, 24, 10, tzinfo=UTC)
    await _sent(council, AMY, letter, "2027-05-24")

    # Twenty working days from the letter, less the Spring Bank Holiday (31 May): Tue 22 Jun.
    council.clock.now = datetime(2027, 6, 21, 10, tzinfo=UTC)
    (reply,) = await council.say(CATH, f"appeal {reference}")
    log = await open_from(council, CATH, reply.card, "Log an appeal")
    labels = [c["title"] for c in inputs(log.card)["against"]["choices"]]
    assert labels[0] == (
        "The variation of a restriction at review, Thu 20 May 2027 · the Complaints Review Group, "
        "by Tue 22 Jun 2027"
    )
    assert inputs(log.card)["restrictions"]["choices"][0]["title"].endswith("One call a week, 20 minutes.")
    await log.press(
        "Log appeal", against=appeal_choice(log.card, "review"), grounds="One call a week is too few."
    )
    assert "Logged. The appeal goes to the Complaints Review Group." in closing_text(log)
    assert "late" not in closing_text(log)
    second = max(await council.rows(Appeal), key=lambda a: a.id)
    (review,) = await council.rows(Review)
    assert (second.route, second.step, second.time_limit_on, second.late) == (
        "complaints_review_group",
        f"review:{review.id}",
        date(2027, 6, 22),
        False,
    )
    # Amy varied it, so she may not hear it; Dev may.
    refused = await _outcome_form(council, AMY, second.id, "not_upheld")
    assert "You took part" in closing_text(refused)
    heard = await _outcome_form(council, DEV, second.id, "not_upheld")
    await heard.press("Record outcome", reasons="Proportionate still.")
    await council.deliver()
    *_, told = [  # the first appeal's outcome, then this one's
        s
        for s in council.connector.to(AMY.chat_id)
        if s.activity.get("summary") == f"Appeal outcome: {reference}"
    ]
    assert "Against the variation of a restriction at review." in texts(told.card)

    # November: lifted at review, then reinstated when calls turn abusive again: a new decision.
    council.clock.now = datetime(2027, 11, 19, 10, tzinfo=UTC)
    assert "Lifted by Amy Manager" in await _review(council, AMY, "lift")
    (lifted,) = await council.rows(Restriction, Restriction.status == "lifted")
    council.clock.now = datetime(2027, 12, 1, 10, tzinfo=UTC)
    reinstated = await submit_dialog(
        council,
        AMY,
        {
            "verb": "restriction.reinstate",
            "restriction": lifted.id,
            "reasons": "Abusive calls again.",
            **VARIED,
            "restriction_1_starts_on": "2027-12-01",
            "restriction_1_review_due_on": "2028-05-31",
        },
    )
    assert "Reinstated by Amy Manager" in closing_text(reinstated)
    logged = await _log(council, CATH, reference, against="review", grounds="I have calmed down.")
    assert "Logged. The appeal goes to the Complaints Review Group." in logged
    third = max(await council.rows(Appeal), key=lambda a: a.id)
    # Counted from the reinstatement letter's production until it is sent: 20 working days from
    # 1 December, less Christmas and Boxing Day (observed on 27 and 28 December), is 31 December.
    assert (third.against, third.time_limit_on) == ("reinstatement", date(2027, 12, 31))


async def test_the_date_the_letter_gives_is_the_date_the_register_holds_the_customer_to(council):
    reference = await _restricted(council)  # decided Monday 23 November; its letter produced then
    (decision,) = await council.rows(Decision)
    (letter,) = await council.rows(Letter)
    # Downloaded to post on Tuesday 1 December: the copy is dated that day and counts from it.
    council.clock.now = datetime(2026, 12, 1, 10, tzinfo=UTC)
    card_ = await universal(council, AMY, "incident.refresh", {"incident": decision.incident_id})
    words = await _letter_words(council, AMY, card_, "Download letter")
    assert "Date: 1 December 2026" in words and "by 31 December 2026" in words
    (reply,) = await council.say(CATH, f"appeal {reference}")
    form = await open_from(council, CATH, reply.card, "Log an appeal")
    (label,) = [
        c["title"] for c in inputs(form.card)["against"]["choices"] if c["value"].startswith("decision:")
    ]
    assert label.endswith("the Complaints Review Group, by Thu 31 Dec 2026")

    # Recorded as posted on 2 December: the register counts from then, and so does any copy now
    # (Christmas, Boxing Day, New Year's Day and the 2nd are Scottish holidays inside the window).
    council.clock.now = datetime(2026, 12, 2, 16, tzinfo=UTC)
    await _sent(council, AMY, letter, "2026-12-02")
    words = await _letter_words(council, AMY, card_, "Download letter")
    assert "Date: 2 December 2026" in words and "by 5 January 2027" in words
    council.clock.now = datetime(2027, 1, 5, 10, tzinfo=UTC)
    logged = await _log(
        council, CATH, reference, against="decision", grounds=GROUNDS, received_on="2027-01-05"
    )
    assert "late" not in logged
    (appeal,) = await council.rows(Appeal)
    assert (appeal.time_limit_on, appeal.late) == (date(2027, 1, 5), False)


async def test_a_continuation_told_in_a_letter_is_appealed_to_the_group_from_that_letter(council):
    reference = await _restricted(council)
    (restriction,) = await council.rows(Restriction)
    council.clock.now = datetime(2027, 5, 21, 10, tzinfo=UTC)  # the review, due Sunday 23 May
    assert "Continued by Amy Manager" in await _review(council, AMY, "continue", next_review_on="2027-11-19")
    (letter,) = await council.rows(Letter, Letter.kind == "continuation")
    await _sent(council, AMY, letter, "2027-05-21")
    words = await _letter_words(council, AMY, await latest_card(council, AMY), "Download letter")
    # Twenty working days from Friday 21 May, less the Spring Bank Holiday (Monday 31 May).
    assert "the Complaints Review Group" in words and "by 21 June 2027" in words
    council.clock.now = datetime(2027, 6, 1, 10, tzinfo=UTC)
    logged = await _log(council, CATH, reference, against="review", grounds="Still too strict.")
    assert "Logged. The appeal goes to the Complaints Review Group." in logged
    appeal = max(await council.rows(Appeal), key=lambda a: a.id)
    assert (appeal.against, appeal.time_limit_on) == ("continuation", date(2027, 6, 21))
    assert [r.restriction_id for r in await council.rows(AppealedRestriction)] == [restriction.id]


async def test_a_restriction_lifted_on_appeal_takes_the_buttons_off_its_review_reminders(council):
    from dialogs import reviews

    reference = await _restricted(council)  # its review is due Sunday 23 May 2027
    council.clock.now = datetime(2027, 5, 10, 10, tzinfo=UTC)
    assert await reviews.sweep_reviews(council.app[SERVICES]) == 1
    await council.deliver()
    (reminder,) = [s for s in council.connector.to(AMY.chat_id) if s.method == "POST"]
    assert "Continue" in [a.get("title") for a in reminder.card.get("actions", [])]
    council.connector.clear()
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS, received_on="2027-05-10")
    (appeal,) = await council.rows(Appeal)
    form = await _outcome_form(council, CERI, appeal.id, "upheld")
    await form.press("Record outcome", reasons="Too wide for what happened.")
    await council.deliver()
    (updated,) = [  # the reminder card, replaced where it stands
        s
        for s in council.connector.to(AMY.chat_id)
        if s.method == "PUT" and s.activity.get("summary") == "Restriction updated"
    ]
    titles = [a.get("title") for a in updated.card.get("actions", [])]
    assert not {"Continue", "Vary", "Lift"} & set(titles), titles
    assert "lifted" in texts(updated.card).lower()
