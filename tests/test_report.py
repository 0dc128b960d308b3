"""Reporting an incident through the Teams dialog, as Teams sends it, to the register's rows."""

import asyncio
from datetime import UTC, datetime

import pytest

from storage.models import AuditEvent, Customer, Incident, IncidentNote, OutboxMessage, ReportDraft
from tests.support.dialog import Dialog, button, errors, inputs, texts
from tests.support.reporting import ACTION, BEHAVIOUR, WHAT
from tests.support.reporting import to_check as _to_check
from tests.support.teams import AMY, CATH, KIM, SAM


async def _seed_customer(harness, name="John Smith", reference="CUS-1001", postcode="TD6 0SA"):
    async with harness.sessions() as session:
        customer = Customer(
            name=name,
            customer_reference=reference,
            postcode=postcode,
            email="j.smith@mail.example",
            created_at=harness.clock(),
        )
        session.add(customer)
        await session.commit()
        return customer.id


@pytest.fixture
async def council(harness):
    await harness.import_roles()
    for person in (AMY, KIM, SAM):
        await harness.say(person, "hi")
    harness.connector.clear()
    return harness


async def test_report_answers_with_a_card_that_opens_the_dialog(council):
    (reply,) = await council.say(SAM, "report")
    data = button(reply.card, "Report an incident")
    assert data["msteams"] == {"type": "task/fetch"}
    dialog = Dialog(council, SAM)
    card = await dialog.open(data)
    assert "Step 1 of 5" in texts(card)
    assert {"customer_query", "new_name", "new_support_needs", "new_advocate"} <= set(inputs(card))


async def test_welcome_card_has_the_report_button(harness):
    (welcome,) = await harness.say(SAM, "hello")
    assert button(welcome.card, "Report an incident")["action"] == "report.open"


async def test_a_report_walked_step_by_step_reaches_the_register_and_the_managers(council):
    customer_id = await _seed_customer(council)
    await _seed_customer(council, name="Joan Smythe", reference="CUS-2002", postcode="EH1 1AA")
    dialog = Dialog(council, SAM)
    await dialog.open()

    # Step 1: a misspelt name with the postcode still finds John Smith, shown by a hint only.
    card = await dialog.press("Search", customer_query="jon smith td6 0sa")
    choices = inputs(card)["customer_id"]["choices"]
    hinted = "John Smith · reference ends 001 · postcode TD6 •••"
    assert choices[0] == {"title": hinted, "value": str(customer_id)}
    assert choices[-1]["value"] == "new"
    card = await dialog.press("Next", customer_id=str(customer_id))
    assert "Step 2 of 5" in texts(card)
    assert [c["value"] for c in inputs(card)["service_area"]["choices"]] == ["housing", "waste"]
    card = await dialog.press("Next", **WHAT)
    # Step 2 continued: the behaviours are category two's, in the policy's words.
    behaviour_values = [c["value"] for c in inputs(card)["behaviours"]["choices"]]
    assert behaviour_values == [
        "demanding_responses",
        "insisting_on_staff",
        "moving_the_goal_posts",
        "other",  # the policy's lists are not exhaustive
    ]
    assert "Demanding responses within unreasonable timescales." in texts(card)
    await dialog.press("Next", **BEHAVIOUR)
    card = await dialog.press("Next", **ACTION)
    shown = texts(card)
    assert "Step 5 of 5" in shown
    assert "John Smith · reference ends 001 · postcode TD6 •••" in shown
    assert "Category two: Demands on the Council" in shown
    assert "Mon 23 Nov 2026, 09:15" in shown
    assert "Contact ended" in shown
    assert await council.rows(Incident) == []  # nothing stored before Send

    assert await dialog.press("Send") is None
    assert dialog.closing_message.startswith("Reported as INC-2026-00001.")

    (incident,) = await council.rows(Incident)
    assert incident.reference == "INC-2026-00001"
    assert incident.customer_id == customer_id
    assert incident.occurred_at == datetime(2026, 11, 23, 9, 15, tzinfo=UTC)
    assert (incident.channel, incident.category) == ("phone", "two")
    assert incident.behaviours == ["demanding_responses", "moving_the_goal_posts"]
    assert incident.others_affected == ["other_customers"]
    assert incident.ended_contact and incident.reporter_wants_support and not incident.urgent
    assert incident.status == "reported"
    assert await council.rows(ReportDraft) == []
    actions = [
        e.action for e in await council.rows(AuditEvent, AuditEvent.record_type.in_(["incident", "customer"]))
    ]
    assert actions == ["customer.searched", "incident.reported"]

    assert await council.deliver() == 2
    (notice,) = council.connector.to(AMY.chat_id)
    assert notice.activity["summary"] == "Incident INC-2026-00001 reported for Housing"
    assert "Demanded a reply within the hour" in texts(notice.card)
    assert "Sam Staff" in texts(notice.card)
    (confirmation,) = council.connector.to(SAM.chat_id)
    shown = texts(confirmation.card)
    assert "Reported: INC-2026-00001" in shown
    assert "add to INC-2026-00001" in shown
    assert "Employee Assistance Programme" in shown  # Sam asked for support
    assert council.connector.to(KIM.chat_id) == []  # Housing has a manager: keepers not bothered


async def test_a_new_customer_is_added_with_what_the_reporter_knows(council):
    dialog = Dialog(council, SAM)
    await _to_check(
        dialog,
        {
            "new_name": "Pat Jones",
            "new_email": "Pat.Jones@Mail.Example",
            "new_postcode": "td6 0sa",
            "new_support_needs": "Hard of hearing: prefers email",
            "new_advocate": "Citizens Advice",
        },
    )
    await dialog.press("Send")
    (customer,) = await council.rows(Customer)
    assert (customer.name, customer.email, customer.postcode) == (
        "Pat Jones",
        "pat.jones@mail.example",
        "TD6 0SA",
    )
    assert customer.support_needs == "Hard of hearing: prefers email"
    assert customer.advocate == "Citizens Advice"
    added = await council.rows(AuditEvent, AuditEvent.action == "customer.added")
    assert [e.record_id for e in added] == [str(customer.id)]


async def test_back_keeps_what_was_entered(council):
    dialog = Dialog(council, SAM)
    await dialog.open()
    await dialog.press("Next", new_name="Pat Jones", new_phone="01835 824000")
    await dialog.press("Next", **WHAT)
    card = await dialog.press("Back", behaviours="campaigns", description="half written")
    assert inputs(card)["category"]["value"] == "two"
    assert inputs(card)["occurred_time"]["value"] == "09:15"
    card = await dialog.press("Back")
    assert inputs(card)["new_name"]["value"] == "Pat Jones"
    assert inputs(card)["new_phone"]["value"] == "01835 824000"
    await dialog.press("Next")
    card = await dialog.press("Next")
    assert inputs(card)["description"]["value"] == "half written"


async def test_a_failed_check_reshows_the_step_with_messages_beside_the_fields(council):
    dialog = Dialog(council, SAM)
    await dialog.open()
    card = await dialog.press("Next", new_email="not-an-email")
    assert "Step 1 of 5" in texts(card)
    assert set(errors(card)) == {
        "Choose a customer from the search results, or enter the new customer's name",
        "Enter an email address like name@example.com",
    }
    assert inputs(card)["new_email"]["value"] == "not-an-email"  # kept, to correct
    await dialog.press("Next", new_name="Pat Jones", new_email="pat@mail.example")
    card = await dialog.press("Next", **{**WHAT, "occurred_date": "2026-11-24"})
    assert errors(card) == ["The date and time cannot be in the future"]
    card = await dialog.press("Next", **{**WHAT, "occurred_time": "9 o'clock"})
    assert errors(card) == ["Enter the time it happened, like 14:30"]
    card = await dialog.press("Next", **WHAT)
    card = await dialog.press("Next", **{**BEHAVIOUR, "description": "x" * 4001})
    assert errors(card) == ["Keep this to 4,000 characters (it has 4,001)"]
    card = await dialog.press("Next", **{**BEHAVIOUR, "behaviours": ""})
    assert errors(card) == ["Choose at least one behaviour you saw"]
    card = await dialog.press("Next", **BEHAVIOUR)
    card = await dialog.press("Next", **{**ACTION, "police_called": "true"})
    assert errors(card) == ["Give the police incident reference, or 'not given'"]
    assert await council.rows(Incident) == []
    assert await council.rows(Customer) == []


@pytest.mark.parametrize(
    ("step_values", "message"),
    [
        ({"channel": "carrier pigeon"}, "Choose how the customer made contact"),
        ({"category": "five"}, "Choose the category that fits best"),
        ({"service_area": "planning"}, "Choose the service area"),
    ],
)
async def test_forged_choices_on_what_happened_are_refused(council, step_values, message):
    dialog = Dialog(council, SAM)
    await dialog.open()
    await dialog.press("Next", new_name="Pat Jones")
    card = await dialog.press("Next", **{**WHAT, **step_values})
    assert errors(card) == [message]
    assert "Step 2 of 5" in texts(card)


async def test_forged_behaviours_and_customers_are_refused(council):
    dialog = Dialog(council, SAM)
    await dialog.open()
    card = await dialog.press("Next", customer_id="999")
    assert "That customer is not in the register: search again" in errors(card)
    await dialog.press("Next", customer_id="new", new_name="Pat Jones")
    await dialog.press("Next", **WHAT)
    # A category one behaviour smuggled into a category two report.
    card = await dialog.press("Next", **{**BEHAVIOUR, "behaviours": "demanding_responses,harassment"})
    assert errors(card) == ["Choose behaviours from this category's list"]
    card = await dialog.press("Next", **{**BEHAVIOUR, "others_affected": "the mayor"})
    assert errors(card) == ["Choose from the list"]


async def test_a_card_cannot_skip_steps_or_send_early(council):
    dialog = Dialog(council, SAM)
    await dialog.open()
    token = dialog.token
    card = await dialog.send({"action": "report.step", "draft": token, "step": "check", "go": "next"})
    assert "Step 1 of 5" in texts(card)  # the server knows the step
    card = await dialog.send({"action": "report.step", "draft": token, "step": "check", "go": "send"})
    assert "Step 1 of 5" in texts(card)
    assert errors(card)
    assert await council.rows(Incident) == []


async def test_someone_elses_draft_cannot_be_used(council):
    dialog = Dialog(council, SAM)
    await dialog.open()
    await dialog.press("Next", new_name="Pat Jones")
    intruder = Dialog(council, AMY)
    await intruder.send({"action": "report.step", "draft": dialog.token, "step": "what", "go": "back"})
    assert "no longer open" in intruder.closing_message
    await intruder.send({"action": "report.step", "draft": dialog.token, "step": "check", "go": "send"})
    assert "no longer open" in intruder.closing_message
    await intruder.send({"action": "report.step", "go": "jump"})
    assert "not a step of the report form" in intruder.closing_message


async def test_a_send_that_arrives_twice_stores_one_incident(council):
    dialog = Dialog(council, SAM)
    await _to_check(dialog, {"new_name": "Pat Jones"})
    send = {**button(dialog.card, "Send")}
    first = Dialog(council, SAM)
    await first.send(send)
    again = Dialog(council, SAM)
    await again.send(send)
    assert first.closing_message == again.closing_message
    assert first.closing_message.startswith("Reported as INC-2026-00001")
    assert len(await council.rows(Incident)) == 1
    assert len(await council.rows(Customer)) == 1
    assert len(await council.rows(OutboxMessage, OutboxMessage.purpose == "incident.confirmation")) == 1


async def test_a_send_retried_concurrently_stores_one_incident(council):
    dialog = Dialog(council, SAM)
    await _to_check(dialog, {"new_name": "Pat Jones"})
    send = {**button(dialog.card, "Send")}
    senders = [Dialog(council, SAM) for _ in range(3)]
    await asyncio.gather(*(d.send(send) for d in senders))
    assert {d.closing_message for d in senders} == {senders[0].closing_message}
    assert len(await council.rows(Incident)) == 1
    assert len(await council.rows(Customer)) == 1


async def test_concurrent_reports_get_distinct_references(council):
    reporters = [SAM, AMY, KIM]
    dialogs = [Dialog(council, who) for who in reporters]
    for d in dialogs:
        await _to_check(d, {"new_name": "Pat Jones"}, what={**WHAT, "service_area": "waste"})
    await asyncio.gather(*(d.press("Send") for d in dialogs))
    references = sorted(i.reference for i in await council.rows(Incident))
    assert references == ["INC-2026-00001", "INC-2026-00002", "INC-2026-00003"]


async def test_category_one_shows_zero_tolerance_and_is_urgent(council):
    dialog = Dialog(council, SAM)
    await dialog.open()
    await dialog.press("Next", new_name="Pat Jones")
    card = await dialog.press("Next", **{**WHAT, "category": "one"})
    shown = texts(card)
    assert "We have ZERO tolerance for threats, violence, aggression, and abusive behaviour" in shown
    assert "You may end the contact at once" in shown
    await dialog.press(
        "Next",
        behaviours="violent_aggressive_threatening",
        description="Threatened to come back with a knife.",
    )
    card = await dialog.press(
        "Next", **{**ACTION, "police_called": "true", "police_reference": "PS-2026-1234"}
    )
    assert "Police called (reference PS-2026-1234)" in texts(card)
    await dialog.press("Send")
    (incident,) = await council.rows(Incident)
    assert incident.urgent and incident.police_reference == "PS-2026-1234"
    await council.deliver()
    (notice,) = council.connector.to(AMY.chat_id)
    assert notice.activity["summary"].startswith("URGENT Incident INC-2026-00001")
    assert "URGENT: category one, zero tolerance" in texts(notice.card)


async def test_a_service_with_no_manager_notifies_the_register_keepers(council):
    dialog = Dialog(council, SAM)
    await _to_check(dialog, {"new_name": "Pat Jones"}, what={**WHAT, "service_area": "waste"})
    await dialog.press("Send")
    await council.deliver()
    (notice,) = council.connector.to(KIM.chat_id)
    assert "Incident INC-2026-00001" in texts(notice.card)


async def test_a_half_finished_report_is_offered_back_for_24_hours(council):
    dialog = Dialog(council, SAM)
    await dialog.open()
    await dialog.press("Next", new_name="Pat Jones")  # then the dialog is closed
    council.clock.advance(hours=3)
    (reply,) = await council.say(SAM, "report")
    assert "You have an unfinished report, last changed Mon 23 Nov 2026, 10:00" in texts(reply.card)
    resumed = Dialog(council, SAM)
    card = await resumed.open(button(reply.card, "Continue it"))
    assert "Step 2 of 5" in texts(card)
    fresh = Dialog(council, SAM)
    card = await fresh.open(button(reply.card, "Start again"))
    assert "Step 1 of 5" in texts(card) and not inputs(card)["new_name"].get("value")

    council.clock.advance(hours=25)
    (reply,) = await council.say(SAM, "report")
    assert "unfinished" not in texts(reply.card)
    await Dialog(council, SAM).open()
    assert len(await council.rows(ReportDraft)) == 1  # the expired one is gone


async def test_reporting_a_teams_message_prefills_the_dialog(council):
    dialog = Dialog(council, SAM, message_action=True)
    card = await dialog.open(
        message={
            "id": "1700000000123",
            "createdDateTime": "2026-06-15T13:05:00.000Z",
            "body": {
                "contentType": "html",
                "content": "<p>You&#39;ll regret this.</p><p>I know where you park.</p>",
            },
            "from": {"user": {"id": "29:someone", "displayName": "Forwarded"}},
        }
    )
    assert "Step 1 of 5" in texts(card)
    await dialog.press("Next", new_name="Pat Jones")
    card = dialog.card
    assert inputs(card)["occurred_date"]["value"] == "2026-06-15"
    assert inputs(card)["occurred_time"]["value"] == "14:05"  # British Summer Time
    await dialog.press("Next", channel="social_media", service_area="housing", category="one")
    assert inputs(dialog.card)["description"]["value"] == "You'll regret this. I know where you park."
    await dialog.press("Next", behaviours="violent_aggressive_threatening")
    await dialog.press("Next", **ACTION)
    assert await dialog.press("Send") is None
    assert dialog.closing_message.startswith("Reported as INC-2026-00001.")
    (incident,) = await council.rows(Incident)
    assert incident.description == "You'll regret this. I know where you park."
    await council.deliver()
    (confirmation,) = council.connector.to(SAM.chat_id)  # and the confirmation in their chat
    assert "Reported: INC-2026-00001" in texts(confirmation.card)


async def test_add_to_an_incident(council):
    dialog = Dialog(council, SAM)
    await _to_check(dialog, {"new_name": "Pat Jones"})
    await dialog.press("Send")
    await council.deliver()
    council.connector.clear()

    (reply,) = await council.say(SAM, "add to inc-2026-00001: He rang back twice.\nSecond call was calmer.")
    assert reply.text == "Added to INC-2026-00001. The managers of Housing can see it."
    (note,) = await council.rows(IncidentNote)
    assert note.text == "He rang back twice.\nSecond call was calmer."
    events = await council.rows(AuditEvent, AuditEvent.action == "incident.note_added")
    assert [(e.record_id, e.detail) for e in events] == [("1", {"note": note.id})]
    await council.deliver()
    (notice,) = council.connector.to(AMY.chat_id)
    assert "He rang back twice." in texts(notice.card)

    (reply,) = await council.say(SAM, "add to INC-2026-00001")
    assert "followed by what you want to add" in reply.text
    await council.say(CATH, "hi")
    (reply,) = await council.say(CATH, "add to INC-2026-00001 I was not there")
    assert reply.text == "I can't find an incident INC-2026-00001 that you can add to. Check the reference."
    (reply,) = await council.say(SAM, "add to INC-2026-00999 hello")
    assert reply.text == "I can't find an incident INC-2026-00999 that you can add to. Check the reference."
    assert len(await council.rows(IncidentNote)) == 1


@pytest.mark.parametrize("forged", ["1", "²", "3000000000", "-1", "1e3"])
async def test_only_a_customer_the_reporters_own_search_found_can_be_chosen(council, forged):
    await _seed_customer(council, name="Secret Person", reference="CUS-9", postcode="ZZ1 1ZZ")
    dialog = Dialog(council, SAM)
    await dialog.open()
    card = await dialog.press("Next", customer_id=forged)
    assert "That customer is not in the register: search again" in errors(card)
    assert "Secret Person" not in texts(card)
    assert "Step 1 of 5" in texts(card)


async def test_an_overlong_search_is_refused_not_run(council):
    dialog = Dialog(council, SAM)
    await dialog.open()
    card = await dialog.press("Search", customer_query="pat " * 3000)
    assert errors(card) == [
        "Search with fewer words: a name and a reference, a postcode, an email or a phone"
    ]


async def test_a_report_by_the_only_manager_goes_to_the_register_keepers(council):
    dialog = Dialog(council, AMY)
    await _to_check(dialog, {"new_name": "Pat Jones"})
    await dialog.press("Send")
    await council.deliver()
    (notice,) = council.connector.to(KIM.chat_id)
    assert "Incident INC-2026-00001" in texts(notice.card)
    assert [s for s in council.connector.to(AMY.chat_id) if "Reported:" not in texts(s.card)] == []


async def test_reporting_a_message_keeps_an_unfinished_report(council):
    dialog = Dialog(council, SAM)
    await dialog.open()
    await dialog.press("Next", new_name="Unfinished Person")
    from_message = Dialog(council, SAM, message_action=True)
    await from_message.open(message={"body": {"content": "abuse"}, "createdDateTime": "2026-11-23T08:00:00Z"})
    (reply,) = await council.say(SAM, "report")
    resumed = Dialog(council, SAM)
    card = await resumed.open(button(reply.card, "Continue it"))
    assert "Step 1 of 5" in texts(card)  # the newest: the message's report
    assert len(await council.rows(ReportDraft)) == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("task/fetch", "not an object"),
        ("task/fetch", {"data": ["a", "list"]}),
        ("task/submit", {"data": {"action": "report.step", "draft": 42, "go": "next"}}),
        ("task/submit", {"data": {"action": "report.step", "draft": "x" * 5000, "go": "send"}}),
        ("composeExtension/fetchTask", {"commandId": "reportAsIncident", "messagePayload": "nope"}),
        ("composeExtension/submitAction", {"commandId": "somethingElse", "data": {}}),
        ("adaptiveCard/action", {"action": {"type": "Action.Execute"}}),
        ("adaptiveCard/action", {"action": {"verb": "decision.submit", "data": "x"}}),
        ("signin/verifyState", {}),
    ],
)
async def test_malformed_invokes_get_a_clear_answer_never_a_server_error(council, name, value):
    status, body = await council.invoke(SAM, name, value)
    assert status == 200
    assert body is not None
    assert await council.rows(Incident) == []


async def test_a_send_that_no_longer_passes_a_check_shows_that_step_again_and_stores_nothing(council):
    from sqlalchemy import update

    from tests.support.reporting import report

    await report(council, SAM)  # Pat Jones, now in the register
    dialog = Dialog(council, SAM)
    await _to_check(dialog, {"customer_query": "pat jones TD6 0SA", "customer_id": "1"})
    # Before Sam presses Send, Pat's record is anonymised (retention): the choice is stale.
    async with council.sessions() as session:
        await session.execute(update(Customer).where(Customer.id == 1).values(anonymised_at=council.clock()))
        await session.commit()
    card = await dialog.press("Send")
    assert card is not None  # the dialog stays open, on the customer step
    assert "That customer is not in the register: search again" in texts(card)
    assert len(await council.rows(Incident)) == 1  # only the first report
    (draft,) = await council.rows(ReportDraft)
    assert draft.step == "customer"


async def test_the_form_starts_at_now_in_the_councils_time_zone(council):
    council.clock.advance(days=200)  # 11 Jun 2027, 10:00 UTC: 11:00 in London's summer time
    dialog = Dialog(council, SAM)
    await dialog.open()
    card = await dialog.press("Next", new_name="Pat Jones")
    assert "Step 2 of 5" in texts(card)
    assert inputs(card)["occurred_date"]["value"] == "2027-06-11"
    assert inputs(card)["occurred_time"]["value"] == "11:00"


async def test_a_name_searched_for_and_not_chosen_becomes_the_new_customers_name(council):
    await _seed_customer(council)
    dialog = Dialog(council, SAM)
    await dialog.open()
    card = await dialog.press("Search", customer_query="Jordan Blake")
    assert inputs(card)["new_name"]["value"] == "Jordan Blake"
    card = await dialog.press("Search", customer_query="Jordan Blakey")  # carried again
    assert inputs(card)["new_name"]["value"] == "Jordan Blakey"
    card = await dialog.press("Search", customer_query="TD6 0SA")  # no name in it
    assert inputs(card)["new_name"]["value"] == "Jordan Blakey"
    card = await dialog.press("Search", customer_query="J Blake", new_name="Jordan Blake-Smith")
    assert inputs(card)["new_name"]["value"] == "Jordan Blake-Smith"  # typed: kept

    # Choosing the existing customer wins over the carried name.
    card = await dialog.press("Search", customer_query="john smith CUS-1001", new_name="")
    assert inputs(card)["new_name"]["value"] == "john smith"
    (chosen, *_) = [c["value"] for c in inputs(card)["customer_id"]["choices"]]
    await dialog.press("Next", customer_id=chosen)
    await dialog.press("Next", **WHAT)
    await dialog.press("Next", **BEHAVIOUR)
    card = await dialog.press("Next", **ACTION)
    assert "John Smith" in texts(card) and "new to the register" not in texts(card)


async def test_every_step_says_the_same_number_of_steps(council):
    dialog = Dialog(council, SAM)
    seen = [texts(await dialog.open())]
    for values in ({"new_name": "Pat Jones"}, WHAT, BEHAVIOUR, ACTION):
        seen.append(texts(await dialog.press("Next", **values)))
    for number, shown in enumerate(seen, start=1):
        assert f"Step {number} of 5" in shown
