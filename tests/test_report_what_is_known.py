"""The report can say what the list does not: another behaviour, a representative who behaved so,
a customer not yet identified (matched later by a keeper); and the reporter's request for support
reaches the managers."""

import pytest

from storage.models import AuditEvent, Customer, Incident
from tests.support.dialog import Dialog, texts
from tests.support.reporting import ACTION, BEHAVIOUR, WHAT, report
from tests.support.teams import AMY, KIM, SAM
from tests.test_decide import HAL, ROLES, WES

PAT = {"new_name": "Pat Jones", "new_address": "1 High Street, Melrose", "new_postcode": "TD6 0SA"}


@pytest.fixture
async def council(harness):
    await harness.import_roles(ROLES)
    for person in (AMY, HAL, WES, KIM, SAM):
        await harness.say(person, "hi")
    harness.connector.clear()
    return harness


async def _amys_card(council) -> dict:
    await council.deliver()
    return [s for s in council.connector.to(AMY.chat_id) if s.method == "POST"][-1].card


async def test_another_behaviour_is_described_and_reaches_the_managers(council):
    dialog = Dialog(council, SAM)
    await dialog.open()
    await dialog.press("Next", **PAT)
    await dialog.press("Next", **WHAT)
    refused = await dialog.press("Next", **{**BEHAVIOUR, "behaviours": "other"})
    assert "Describe the other behaviour" in texts(refused)
    await dialog.press("Next", other_behaviour="Filmed staff and streamed it live.")
    await dialog.press("Next", **ACTION)
    assert "Another behaviour: Filmed staff and streamed it live." in texts(dialog.card)
    await dialog.press("Send")
    (incident,) = await council.rows(Incident)
    assert (incident.behaviours, incident.other_behaviour) == (
        ["other"],
        "Filmed staff and streamed it live.",
    )
    assert "Another behaviour: Filmed staff and streamed it live." in texts(await _amys_card(council))


async def test_a_representative_acting_for_the_customer_is_recorded_as_the_one_who_behaved_so(council):
    dialog = Dialog(council, SAM)
    await dialog.open()
    await dialog.press("Next", **PAT)
    await dialog.press("Next", **WHAT)
    refused = await dialog.press("Next", **BEHAVIOUR, by_representative="true")
    assert "Say who acted for the customer" in texts(refused)
    await dialog.press("Next", representative="Her son, acting as her advocate")
    await dialog.press("Next", **ACTION)
    await dialog.press("Send")
    (incident,) = await council.rows(Incident)
    assert incident.representative == "Her son, acting as her advocate"
    shown = texts(await _amys_card(council))
    assert "A representative acting for the customer: Her son, acting as her advocate" in shown


async def test_the_reporters_request_for_support_is_on_the_managers_card_with_whom_to_contact(council):
    await report(council, SAM, action={"wants_support": "true"})
    shown = texts(await _amys_card(council))
    assert "Sam Staff asked for support after this" in shown
    assert "Contact Sam Staff to offer a debrief" in shown and "Employee Assistance Programme" in shown
    council.connector.clear()
    await report(council, SAM, action={"wants_support": "false"})
    assert "asked for support" not in texts(await _amys_card(council))


async def test_a_customer_not_yet_identified_is_reported_then_matched_by_a_keeper(council):
    pat = await report(council, SAM)  # Pat Jones is on the register already
    dialog = Dialog(council, SAM)
    await dialog.open()
    refused = await dialog.press("Next", unidentified="true")
    assert "Say what is known" in texts(refused)
    await dialog.press("Next", known_as="Caller on 07700 900123, would not give a name")
    await dialog.press("Next", **WHAT)
    await dialog.press("Next", **BEHAVIOUR)
    await dialog.press("Next", **ACTION)
    await dialog.press("Send")
    reference = dialog.closing_message.split()[2].rstrip(".")
    unknown = next(c for c in await council.rows(Customer) if c.unidentified)
    assert unknown.name == "Not yet identified: Caller on 07700 900123, would not give a name"
    assert "Not yet identified: Caller on 07700 900123" in texts(await _amys_card(council))
    (listed,) = await council.say(KIM, "unidentified")
    assert reference in texts(listed.card) and pat not in texts(listed.card)
    (refused,) = await council.say(AMY, f"match {reference} to pat jones TD6 0SA")
    assert "Only some roles may use" in refused.text
    (vague,) = await council.say(KIM, f"match {reference} to pat")
    assert "Nothing was changed" in vague.text
    (done,) = await council.say(KIM, f"match {reference} to pat jones TD6 0SA")
    assert f"{reference} is now on the record of Pat Jones" in done.text
    incidents = await council.rows(Incident)
    known = next(c for c in await council.rows(Customer) if c.name == "Pat Jones")
    assert {i.customer_id for i in incidents} == {known.id}
    (provisional,) = await council.rows(Customer, Customer.id == unknown.id)
    assert provisional.name == "(matched to a customer record)" and provisional.anonymised_at is not None
    (matched,) = await council.rows(AuditEvent, AuditEvent.action == "customer.matched")
    assert matched.record_id == str(known.id) and matched.detail["from"] == unknown.id
    (again,) = await council.say(KIM, f"match {reference} to pat jones TD6 0SA")
    assert "is not an incident whose customer is waiting" in again.text
