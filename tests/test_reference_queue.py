"""Reports waiting for a reference number are served in the order they asked, on PostgreSQL too."""

import asyncio

import pytest

from storage.incidents import next_reference


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_reports_waiting_for_a_number_get_them_in_the_order_they_asked(sessions):
    first = sessions()
    await next_reference(first, 2026)  # holds the counter until it commits
    issued: list[tuple[int, int]] = []

    async def report(n: int) -> None:
        async with sessions() as session:
            sequence, _ = await next_reference(session, 2026)
            issued.append((n, sequence))
            await session.commit()

    waiting = []
    for n in range(8):
        waiting.append(asyncio.create_task(report(n)))
        await asyncio.sleep(0.05)  # each is queued before the next asks
    await first.commit()
    await first.close()
    await asyncio.gather(*waiting)
    # Without the queue PostgreSQL woke them all at once and the race decided.
    assert issued == [(n, n + 2) for n in range(8)]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_reference_postgresql_makes_is_the_policys_past_five_digits_too(sessions):
    from datetime import UTC, datetime

    from policy.categories import Category
    from policy.channels import ContactChannel
    from policy.incidents import incident_reference
    from storage.incidents import Report, record
    from storage.models import Customer, Person, ReferenceCounter, ServiceArea

    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    async with sessions() as session:
        person = Person(email="sam@council.example", created_at=now, updated_at=now)
        area = ServiceArea(key="housing", name="Housing")
        customer = Customer(name="Pat Jones", created_at=now)
        session.add_all([person, area, customer, ReferenceCounter(year=2026, last=99998)])
        await session.commit()
        report = Report(
            customer_id=customer.id,
            reporter_id=person.id,
            service_area_id=area.id,
            occurred_at=now,
            channel=ContactChannel.PHONE,
            category=Category.TWO,
            behaviours=(),
            description="Shouted over the phone.",
            impact_on_staff=None,
            impact_on_service=None,
            others_affected=(),
            ended_contact=False,
            left_premises=False,
            police_called=False,
            police_reference=None,
            reporter_wants_support=False,
        )
    made = []
    for n in range(3):
        async with sessions() as session:
            incident = await record(session, report, now=now, year=2026, submission_key=f"send-{n}")
            await session.commit()
            made.append((incident.sequence, incident.reference))
    assert made == [(s, incident_reference(2026, s)) for s in (99999, 100000, 100001)]
    assert [r for _, r in made] == ["INC-2026-99999", "INC-2026-100000", "INC-2026-100001"]
