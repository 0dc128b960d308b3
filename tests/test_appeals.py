"""Appeals routed to the right body: the review group's channel, the Chief Executive, complaints."""

import io
import json
from datetime import UTC, date, datetime

import pytest
from docx import Document

from bot.app import SERVICES
from dialogs import appeals, review_channel
from storage.models import Appeal, AuditEvent, Letter, OutboxMessage, Restriction
from tests.support import teams
from tests.support.dialog import (
    Dialog,
    closing_text,
    inputs,
    open_from,
    press_execute,
    submit_dialog,
    texts,
)
from tests.support.harness import BotHarness
from tests.support.reporting import report
from tests.support.teams import AMY, CATH, CERI, CHIEF, KIM, SAM, Person
from tests.test_decide import ACTIVE, _download, _local, _walk_actions

DEV = Person.called("Dev Panel", "dev.panel@council.example")
ELLE = Person.called("Elle Member", "elle.member@council.example")
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
complaints_team = ["cath.complaints@council.example"]
register_keepers = ["kim.keeper@council.example"]
elected_members = ["elle.member@council.example"]
"""


@pytest.fixture
async def council(database_url, connector, clock):
    bot = BotHarness(database_url, connector, clock)
    await bot.start()
    await bot.import_roles(ROLES)
    for person in (AMY, CERI, DEV, CHIEF, CATH, KIM, SAM, ELLE):
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


async def _log(council, who, reference, **values) -> str:
    """`appeal INC-...`, then the form in its dialog; what the dialog said or still shows."""
    (reply,) = await council.say(who, f"appeal {reference}")
    form = await open_from(council, who, reply.card, "Log an appeal")
    await form.press("Log appeal", **values)
    return closing_text(form)


async def _outcome_form(council, who, appeal_id: int, outcome: str) -> Dialog:
    return await submit_dialog(
        council, who, {"verb": "appeal.outcome_form", "appeal": appeal_id, "outcome": outcome}
    )


GROUNDS = "I only called so often because nobody answered my repairs complaint."


async def test_a_managers_decision_goes_to_the_review_group_as_a_new_thread(council):
    reference = await _restricted(council)
    logged = await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    assert "Logged. The appeal goes to the Complaints Review Group." in logged
    (appeal,) = await council.rows(Appeal)
    assert (appeal.route, appeal.against, appeal.late, appeal.status) == (
        "complaints_review_group",
        "decision",
        False,
        "open",
    )
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
    ):
        assert expected in shown, expected
    assert [a["title"] for a in thread.card["actions"]] == [
        "Upheld (the decision stands)",
        "Varied (change the restrictions)",
        "Overturned (restrictions lifted)",
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
    refused = await open_from(council, AMY, thread.card, "Overturned (restrictions lifted)")
    assert "You took part in the decision or the report" in closing_text(refused)
    form = await open_from(council, CERI, thread.card, "Overturned (restrictions lifted)")
    empty = await form.press("Record outcome")
    assert "Give the reasons for the outcome" in texts(empty)
    await form.press("Record outcome", reasons="Calls were about an unanswered complaint.")
    assert "Overturned by Ceri Panel" in closing_text(form)
    (restriction,) = await council.rows(Restriction)
    assert (restriction.status, restriction.ended_reason) == ("lifted", "Overturned on appeal")
    (appeal,) = await council.rows(Appeal)
    assert (appeal.status, appeal.outcome) == ("decided", "overturned")
    assert [
        e.detail["outcome"] for e in await council.rows(AuditEvent, AuditEvent.action == "appeal.outcome")
    ] == ["overturned"]

    await council.deliver()
    updates = [s for s in council.connector.sent if s.method == "PUT"]
    (update,) = updates  # the thread's first message, replaced for everyone in the channel
    done = update.card
    assert update.conversation_id.startswith(f"{CHANNEL};messageid=")
    assert "Overturned by Ceri Panel" in texts(update.card)
    assert any("Appeal on" in texts(s.card) for s in council.connector.to(CATH.chat_id))  # the logger told

    again = await open_from(council, DEV, thread.card, "Upheld (the decision stands)")
    assert "already recorded. Nothing was changed." in closing_text(again)

    ready = await press_execute(council, CERI, done, "Download outcome letter")
    (link,) = [a for a in _walk_actions(ready) if a.get("type") == "Action.OpenUrl"]
    status, body = await _download(council, _local(council, link["url"]))
    words = "\n".join(p.text for p in Document(io.BytesIO(body)).paragraphs)
    assert status == 200
    assert "The outcome of your appeal" in words
    assert "Your appeal was upheld: the restrictions are lifted." in words
    assert "Calls were about an unanswered complaint." in words
    assert "the Chief Executive" in words  # a decision of the review group goes to the Chief Executive
    assert "Scottish Public Services Ombudsman (SPSO)" in words  # and, beyond, the ombudsman

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
    form = await _outcome_form(council, CERI, appeal.id, "varied")
    await form.press(
        "Record outcome",
        reasons="Email only is too strict.",
        restriction_1_type="limit_time_volume_topics",
        restriction_1_details="One call a week.",
        restriction_1_frontline_instructions="Take one call a week.",
    )
    assert "Varied by Ceri Panel" in closing_text(form)
    old, new = sorted(await council.rows(Restriction), key=lambda r: r.id)
    assert (old.status, new.status, new.replaces_id, new.details) == (
        "varied",
        "active",
        old.id,
        "One call a week.",
    )


async def test_an_immediate_action_goes_to_the_complaints_procedure(council):
    reference = await report(council, SAM)  # Sam ended the contact
    await council.deliver()
    council.connector.clear()
    logged = await _log(council, CATH, reference, against="immediate_action", grounds="She hung up on me.")
    assert "Logged. The appeal goes to the complaints handling procedure." in logged
    await council.deliver()
    (posted,) = [
        s for s in council.connector.to(CATH.chat_id) if s.activity.get("summary", "").startswith("Appeal on")
    ]
    assert "Against an employee's immediate action (ending the contact)" in texts(posted.card)
    assert [s for s in council.connector.sent if s.method == "THREAD"] == []
    refused = await open_from(council, SAM, posted.card, "Upheld (the decision stands)")
    assert "Only the body hearing the appeal and the register keepers do." in closing_text(refused)
    form = await open_from(council, CATH, posted.card, "Upheld (the decision stands)")
    await form.press("Record outcome", reasons="Ending the call was reasonable.")
    assert "Upheld by Cath Complaints" in closing_text(form)
    await council.deliver()
    done = [s for s in council.connector.to(CATH.chat_id) if s.method == "PUT"][-1].card
    assert "Upheld by Cath Complaints" in texts(done)
    ready = await press_execute(council, CATH, done, "Download outcome letter")
    (link,) = [a for a in _walk_actions(ready) if a.get("type") == "Action.OpenUrl"]
    _, body = await _download(council, _local(council, link["url"]))
    words = "\n".join(p.text for p in Document(io.BytesIO(body)).paragraphs)
    assert "Scottish Public Services Ombudsman (SPSO)" in words


async def test_an_elected_members_action_is_not_appealable_and_nothing_is_stored(council):
    reference = await report(council, ELLE)
    logged = await _log(
        council, CATH, reference, against="immediate_action", grounds="The councillor walked out."
    )
    assert "The appeal process does not apply to action taken by elected members" in logged
    assert await council.rows(Appeal) == []


async def test_the_review_groups_decision_goes_to_the_chief_executive_and_no_further(council):
    reference = await _restricted(council)
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    (first,) = await council.rows(Appeal)
    form = await _outcome_form(council, CERI, first.id, "upheld")
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
    refused = await open_from(council, CERI, posted.card, "Upheld (the decision stands)")
    assert "Only the body hearing the appeal and the register keepers do." in closing_text(refused)
    form = await open_from(council, CHIEF, posted.card, "Upheld (the decision stands)")
    await form.press("Record outcome", reasons="I agree with the panel.")
    second = (await council.rows(Appeal, Appeal.route == "chief_executive"))[0]
    assert second.outcome == "upheld"

    refused = await _log(council, CATH, reference, against=f"appeal:{second.id}", grounds="Still unhappy.")
    assert "no further internal appeal against the Chief Executive's decision" in refused
    assert len(await council.rows(Appeal)) == 2


async def test_refusals_store_nothing(council):
    reference = await report(council, SAM)
    # No decision yet: only the immediate action can be appealed; a forged "decision" is refused.
    refused = await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    assert f"There is no decision on {reference} to appeal yet" in refused
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
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    again = await _log(council, KIM, reference, against="decision", grounds="Again.")
    assert "There is already an open appeal on this" in again
    assert len(await council.rows(Appeal)) == 1


async def test_a_late_appeal_is_logged_with_a_warning(council):
    reference = await _restricted(council)
    council.clock.now = datetime(2027, 1, 15, 10, tzinfo=UTC)
    logged = await _log(
        council, CATH, reference, against="decision", grounds=GROUNDS, received_on="2027-01-14"
    )
    assert "It is late: received Thu 14 Jan 2027, after the deadline of Mon 21 Dec 2026" in logged
    (appeal,) = await council.rows(Appeal)
    assert appeal.late
    await council.deliver()
    (thread,) = [s for s in council.connector.sent if s.method == "THREAD"]
    assert "Late: received after the time to appeal. The deciding body may still accept it." in texts(
        thread.card
    )


async def test_the_thread_is_reminded_when_no_outcome_comes_in_time(council):
    reference = await _restricted(council)
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    await council.deliver()
    (thread,) = [s for s in council.connector.sent if s.method == "THREAD"]
    services = council.app[SERVICES]
    council.clock.now = datetime(2026, 12, 18, 10, tzinfo=UTC)  # 19 working days
    assert await appeals.sweep_outcome_reminders(services) == 0
    council.clock.now = datetime(2026, 12, 21, 10, tzinfo=UTC)  # 20 working days
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
    await asyncio.gather(*(f.press("Log appeal", against="decision", grounds=GROUNDS) for f in forms))
    assert len(await council.rows(Appeal)) == 1
    answers = [closing_text(f) for f in forms]
    assert sum("Logged. The appeal goes to" in a for a in answers) == 1
    assert sum("There is already an open appeal on this" in a for a in answers) == 1


async def test_after_the_review_group_decides_the_managers_decision_is_not_heard_again(council):
    reference = await _restricted(council)
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    (first,) = await council.rows(Appeal)
    form = await _outcome_form(council, CERI, first.id, "upheld")
    await form.press("Record outcome", reasons="Proportionate.")
    (reply,) = await council.say(CATH, f"appeal {reference}")
    log = await open_from(council, CATH, reply.card, "Log an appeal")
    offered = [c["value"] for c in inputs(log.card)["against"]["choices"]]
    assert "decision" not in offered and f"appeal:{first.id}" in offered
    refused = await log.press("Log appeal", against="decision", grounds="Again.")
    assert "This decision's appeal has been decided: appeal against that outcome instead" in texts(refused)
    assert len(await council.rows(Appeal)) == 1


async def test_a_varied_outcome_must_set_out_every_appealed_restriction(council):
    reference = await _restricted(council)
    await _log(council, CATH, reference, against="decision", grounds=GROUNDS)
    (appeal,) = await council.rows(Appeal)
    form = await _outcome_form(council, CERI, appeal.id, "varied")
    refused = await form.press("Record outcome", reasons="x", restriction_1_type="")
    assert "Choose a restriction from the policy's list" in texts(refused)
    forged = await submit_dialog(
        council, CERI, {"verb": "appeal.outcome", "appeal": appeal.id, "outcome": ["varied"]}
    )
    assert "That is not an appeal outcome." in closing_text(forged)
    assert (await council.rows(Appeal))[0].status == "open"
