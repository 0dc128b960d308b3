"""Retention: personal data goes when its time is up; the counts stay; held records stay."""

import asyncio
from datetime import UTC, date, datetime

from bot.app import SERVICES
from dialogs import retention
from storage.models import AuditEvent, Customer, Decision, Incident, OutboxMessage, Restriction
from tests.support.dialog import decide, texts
from tests.support.reporting import report
from tests.support.teams import AMY, KIM, SAM
from tests.test_cli import run
from tests.test_decide import ACTIVE, ROLES


async def _register(council) -> None:
    """Three customers: abuse reported (2 years), a threat with physical violence (5 years),
    and one restricted with no end (held while the restriction is active)."""
    await council.import_roles(ROLES)
    for person in (AMY, KIM, SAM):
        await council.say(person, "hi")
    await report(council, SAM, customer={"new_name": "Abe Verbal", "new_email": "abe@mail.example"})
    await report(
        council,
        SAM,
        customer={"new_name": "Thea Threat", "new_phone": "01835 000000"},
        category="one",
        behaviour={"behaviours": "violent_aggressive_threatening"},
        action={"police_called": "true", "police_reference": "PS-1", "physical_violence": "true"},
    )
    await report(council, SAM, customer={"new_name": "Rita Restricted", "new_address": "2 Low Road"})
    await council.deliver()
    (rita,) = [
        s
        for s in council.connector.to(AMY.chat_id)
        if s.method == "POST" and "Incident INC-2026-00003" in texts(s.card)
    ]
    await decide(
        council,
        AMY,
        rita.card,
        "Active management",
        **{**ACTIVE, "restriction_1_review_due_on": "2027-05-01"},
    )
    await council.deliver()


async def test_retention_anonymises_what_is_due_and_keeps_the_counts(harness, tmp_path, database_url):
    await _register(harness)
    services = harness.app[SERVICES]
    harness.clock.now = datetime(2028, 11, 24, 3, tzinfo=UTC)  # two years and a day on
    due = await retention.due(services)
    assert [(d.customer_id, d.incidents) for d in due] == [(1, 1)]  # only the verbal abuse

    result = run(
        "retention", "--dry-run", "--as-of", "2028-11-24", cwd=tmp_path, env={"DATABASE_URL": database_url}
    )
    assert "customer 1: 1 incident(s), due since 2028-11-23" in result.stdout
    assert "1 customer(s) would be anonymised (dry run: nothing changed)" in result.stdout
    assert (await harness.rows(Customer, Customer.id == 1))[0].anonymised_at is None

    assert await retention.run(services) == 1
    abe, thea, rita = sorted(await harness.rows(Customer), key=lambda c: c.id)
    assert (abe.name, abe.email, abe.anonymised_at) == ("Anonymised customer 1", None, harness.clock())
    assert thea.name == "Thea Threat" and thea.phone == "01835 000000"
    (abes_incident,) = await harness.rows(Incident, Incident.customer_id == 1)
    assert abes_incident.description.startswith("[removed")
    assert (abes_incident.category, abes_incident.channel, abes_incident.behaviours) == (
        "two",
        "phone",
        ["demanding_responses", "moving_the_goal_posts"],
    )
    sent_about_abe = await harness.rows(
        OutboxMessage, OutboxMessage.record_type == "incident", OutboxMessage.record_id == "1"
    )
    assert sent_about_abe and all("Abe" not in str(m.activity) for m in sent_about_abe)
    events = await harness.rows(AuditEvent, AuditEvent.action == "retention.anonymised")
    assert [e.record_id for e in events] == ["1"]

    harness.clock.now = datetime(2029, 11, 24, 3, tzinfo=UTC)  # three years on: but it was violent
    assert [d.customer_id for d in await retention.due(services)] == []  # so five years apply
    harness.clock.now = datetime(2031, 11, 24, 3, tzinfo=UTC)  # five years on: the threat too
    assert await retention.run(services) == 1
    (rita,) = await harness.rows(Customer, Customer.id == 3)
    assert rita.anonymised_at is None  # her restriction is still active
    (restriction,) = await harness.rows(Restriction)
    assert restriction.status == "active" and "housing.contact" in restriction.frontline_instructions


async def test_a_restriction_that_ended_counts_from_its_end(harness):
    await _register(harness)
    services = harness.app[SERVICES]
    (restriction,) = await harness.rows(Restriction)
    async with harness.sessions() as session:
        row = await session.get(Restriction, restriction.id)
        row.status, row.ended_at = "lifted", datetime(2027, 6, 1, tzinfo=UTC)
        await session.commit()
    harness.clock.now = datetime(2029, 5, 31, 3, tzinfo=UTC)
    assert 3 not in [d.customer_id for d in await retention.due(services)]
    harness.clock.now = datetime(2029, 6, 2, 3, tzinfo=UTC)
    assert 3 in [d.customer_id for d in await retention.due(services)]
    await retention.run(services)
    (decision,) = await harness.rows(Decision)
    assert decision.reasons.startswith("[removed") and decision.kind == "active_management"


async def test_a_weapon_or_dangerous_animal_keeps_the_record_ten_years(harness):
    await harness.import_roles(ROLES)
    for person in (AMY, SAM):
        await harness.say(person, "hi")
    await report(harness, SAM, customer={"new_name": "Dog Owner"}, action={"weapon_or_animal": "true"})
    (incident,) = await harness.rows(Incident)
    assert incident.weapon_or_animal and not incident.physical_violence
    await harness.deliver()
    (notice,) = [
        s for s in harness.connector.to(AMY.chat_id) if "Incident INC-" in s.activity.get("summary", "")
    ]
    assert "A weapon or dangerous animal" in texts(notice.card)
    services = harness.app[SERVICES]
    harness.clock.now = datetime(2036, 11, 22, 3, tzinfo=UTC)
    assert await retention.due(services) == []
    harness.clock.now = datetime(2036, 11, 24, 3, tzinfo=UTC)
    assert [d.customer_id for d in await retention.due(services)] == [1]


async def test_two_instances_running_retention_at_once_anonymise_each_customer_once(harness):
    await _register(harness)
    services = harness.app[SERVICES]
    harness.clock.now = datetime(2028, 11, 24, 3, tzinfo=UTC)
    done = await asyncio.gather(retention.run(services), retention.run(services))
    assert sorted(done) == [0, 1]
    events = await harness.rows(AuditEvent, AuditEvent.action == "retention.anonymised")
    assert [e.record_id for e in events] == ["1"]


async def test_one_row_beyond_the_calendar_is_reported_and_the_run_goes_on(harness, tmp_path, database_url):
    # Rita's restriction, lifted, with an end of 9999-12-31 (written before dates were bounded):
    # counting years from it was "year 10002 is out of range", and stopped retention for everyone.
    await _register(harness)
    (restriction,) = await harness.rows(Restriction)
    async with harness.sessions() as session:
        row = await session.get(Restriction, restriction.id)
        row.status, row.ends_on = "lifted", date(9999, 12, 31)
        await session.commit()
    services = harness.app[SERVICES]
    harness.clock.now = datetime(2028, 11, 24, 3, tzinfo=UTC)
    plan = await retention.plan(services)
    assert [d.customer_id for d in plan.due] == [1]
    assert [(s.customer_id, s.incident_id) for s in plan.skipped] == [(3, 3)]
    result = run(
        "retention", "--dry-run", "--as-of", "2028-11-24", cwd=tmp_path, env={"DATABASE_URL": database_url}
    )
    assert result.returncode == 0, result.stderr
    assert "customer 3 kept: incident 3: its retention period ends beyond the calendar" in result.stdout
    assert await retention.run(services) == 1
    abe, _, rita = sorted(await harness.rows(Customer), key=lambda c: c.id)
    assert abe.anonymised_at is not None and rita.anonymised_at is None
