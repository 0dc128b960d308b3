"""Reports waiting for a reference number are served in the order they asked, on PostgreSQL too,
and the reference PostgreSQL makes is the policy's."""

import asyncio
from datetime import UTC, datetime

import pytest

from policy.categories import Category
from policy.channels import ContactChannel
from policy.incidents import incident_reference
from storage import direct
from storage.incidents import Report, record_steps
from storage.models import Customer, Person, ReferenceCounter, ServiceArea

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]


async def _report(sessions, *, last: int | None = None) -> Report:
    """A report ready to store, the register holding its reporter, area and customer; `last`:
    the year's last number issued already."""
    async with sessions() as session:
        person = Person(email="sam@council.example", created_at=NOW, updated_at=NOW)
        area = ServiceArea(key="housing", name="Housing")
        customer = Customer(name="Pat Jones", created_at=NOW)
        session.add_all([person, area, customer])
        if last is not None:
            session.add(ReferenceCounter(year=2026, last=last))
        await session.commit()
        return Report(
            customer_id=customer.id,
            reporter_id=person.id,
            service_area_id=area.id,
            occurred_at=NOW,
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


def _stored(report: Report, n: int) -> direct.Plan:
    """The Send's own numbering and INSERT, as its plan runs them."""
    return record_steps(report, now=NOW, year=2026, submission_key=f"send-{n}", dialect="postgresql")


async def test_reports_waiting_for_a_number_get_them_in_the_order_they_asked(sessions):
    report = await _report(sessions)
    first = sessions()
    await direct.run_plan(first, _stored(report, 0))  # holds the counter until it commits
    issued: list[tuple[int, int]] = []

    async def send(n: int) -> None:
        async with sessions() as session:
            incident = await direct.run_plan(session, _stored(report, n), commit=True)
            issued.append((n, incident.sequence))

    waiting = []
    for n in range(1, 9):
        waiting.append(asyncio.create_task(send(n)))
        await asyncio.sleep(0.05)  # each is queued before the next asks
    await first.commit()
    await first.close()
    await asyncio.gather(*waiting)
    # Without the queue PostgreSQL woke them all at once and the race decided.
    assert issued == [(n, n + 1) for n in range(1, 9)]


async def test_the_reference_postgresql_makes_is_the_policys_past_five_digits_too(sessions):
    report = await _report(sessions, last=99998)
    made = []
    for n in range(3):
        async with sessions() as session:
            incident = await direct.run_plan(session, _stored(report, n), commit=True)
            made.append((incident.sequence, incident.reference))
    assert made == [(s, incident_reference(2026, s)) for s in (99999, 100000, 100001)]
    assert [r for _, r in made] == ["INC-2026-99999", "INC-2026-100000", "INC-2026-100001"]
