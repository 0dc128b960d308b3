"""The register's hot paths write and read through Core: the rows must be what the ORM wrote."""

import random
import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from cards.elements import inert
from storage import decisions, outbox
from storage.models import (
    Appeal,
    Customer,
    Decision,
    Incident,
    OutboxMessage,
    Person,
    RestorativeStepTaken,
    Restriction,
    ServiceArea,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CARD = {"type": "message", "summary": "é <at>x</at> \u2060", "attachments": [{"n": [1, 2.5, None, True]}]}


async def test_a_batch_of_messages_is_stored_as_enqueue_stores_one_and_in_order(sessions):
    async with sessions() as session:
        # One queued the ORM way first: the batch must come after it, whatever the flush order.
        outbox.enqueue(session, outbox.Recipient(channel_id="c"), CARD, purpose="p", now=NOW, dedupe_key="a")
        encoded = outbox.encode(CARD)
        await outbox.enqueue_all(
            session,
            [
                outbox.Queued(outbox.Recipient(channel_id="c"), encoded, "p", "incident", 7, "b"),
                outbox.Queued(outbox.Recipient(channel_id="c"), encoded, "q", "incident", 7, "c"),
            ],
            now=NOW,
        )
        await session.commit()
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert [r.dedupe_key for r in rows] == ["a", "b", "c"]
        assert all(r.activity == CARD for r in rows)
        assert [(r.operation, r.status, r.attempts, r.next_attempt_at) for r in rows[1:]] == [
            ("send", "pending", 0, NOW),
            ("send", "pending", 0, NOW),
        ]
        copies = await outbox.copies(session, "incident", 7, purpose="p")
        assert [(c.id, c.person_id, c.status) for c in copies] == [(rows[1].id, None, "pending")]


async def _customer_with_history(session) -> tuple[int, int]:
    person = Person(email="p@x", created_at=NOW, updated_at=NOW)
    area = ServiceArea(key="k", name="K")
    customer = Customer(name="C", created_at=NOW)
    session.add_all([person, area, customer])
    await session.flush()
    rng = random.Random(7)
    incidents = []
    for n in range(5):
        incident = Incident(
            reference=f"INC-2026-{n + 1:05d}",
            year=2026,
            sequence=n + 1,
            customer_id=customer.id,
            reporter_id=person.id,
            service_area_id=area.id,
            occurred_at=NOW - timedelta(days=rng.choice([1, 2, 2])),
            reported_at=NOW,
            channel="phone",
            category=rng.choice(["one", "two"]),
            behaviours=[],
            description="d",
            others_affected=[],
            status=rng.choice(["reported", "decided"]),
        )
        session.add(incident)
        await session.flush()
        incidents.append(incident)
        decision = Decision(
            incident_id=incident.id,
            kind="restorative_approach",
            deciding_body="manager",
            decided_by_id=person.id,
            decided_at=NOW,
            reasons="r",
        )
        session.add(decision)
        await session.flush()
        for step in ("apology", "meeting"):
            session.add(
                RestorativeStepTaken(
                    decision_id=decision.id,
                    customer_id=customer.id,
                    step=step,
                    recorded_at=NOW - timedelta(days=rng.choice([1, 3])),
                )
            )
        session.add(
            Restriction(
                decision_id=decision.id,
                customer_id=customer.id,
                service_area_id=area.id,
                type=rng.choice(["contact_channels", "single_point"]),
                details="x",
                scope="service",
                frontline_instructions="f",
                starts_on=date(2026, 10, rng.choice([1, 5])),
                ends_on=rng.choice([None, date(2027, 1, 1)]),
                status=rng.choice(["active", "ended"]),
            )
        )
        session.add(
            Appeal(
                incident_id=incident.id,
                against="decision",
                route=rng.choice(["service_manager", "complaints_review_group"]),
                received_on=date(2026, 10, rng.choice([2, 9])),
                grounds="g",
                logged_by_id=person.id,
                logged_at=NOW,
                status="open",
            )
        )
    await session.commit()
    return customer.id, incidents[2].id


async def test_the_history_read_in_one_statement_keeps_each_parts_order(sessions):
    async with sessions() as session:
        customer_id, excluding = await _customer_with_history(session)
    async with sessions() as session:
        history = await decisions.history_of(session, customer_id, excluding_incident=excluding)
        incidents = (
            await session.scalars(
                select(Incident)
                .where(Incident.customer_id == customer_id, Incident.id != excluding)
                .order_by(Incident.occurred_at.desc(), Incident.id)
            )
        ).all()
        in_order = (RestorativeStepTaken.recorded_at, RestorativeStepTaken.id)
        steps = (await session.scalars(select(RestorativeStepTaken).order_by(*in_order))).all()
        restrictions = (
            await session.scalars(select(Restriction).order_by(Restriction.starts_on.desc(), Restriction.id))
        ).all()
        appeals = (await session.scalars(select(Appeal).order_by(Appeal.received_on.desc(), Appeal.id))).all()
    assert [(i.reference, i.occurred_at, i.category, i.status) for i in history.incidents] == [
        (i.reference, i.occurred_at, i.category, i.status) for i in incidents
    ]
    assert [(s.step, s.recorded_at, s.taken_on, s.taken_by) for s in history.restorative_steps] == [
        (s.step, s.recorded_at, s.taken_on, s.taken_by) for s in steps
    ]
    assert [(r.type, r.status, r.starts_on, r.ends_on) for r in history.restrictions] == [
        (r.type, r.status, r.starts_on, r.ends_on) for r in restrictions
    ]
    assert [(a.route, a.status, a.outcome) for a in history.appeals] == [
        (a.route, a.status, a.outcome) for a in appeals
    ]


_JOIN = "\u2060"


def _inert_every_pass(value: str) -> str:
    """inert as it was before it skipped passes: every substitution, every time."""
    value = value.replace("](", "] (").replace("]:", "] :")
    value = re.sub(r"\b([A-Za-z][A-Za-z0-9+.-]{0,30}):(?=/)", rf"\1:{_JOIN}", value)
    value = re.sub(r"\b(www)\.", rf"\1{_JOIN}.", value, flags=re.IGNORECASE)
    value = re.sub(r"<(/?)(at)\b", r"‹\1\2", value, flags=re.IGNORECASE)
    return value.replace("{{", "{" + _JOIN + "{")


def test_inert_skipping_passes_changes_nothing():
    pieces = [*"wW.:/]([{}<>atAT s", "www.", "WwW.", "http://", "<at>", "</AT>", "](", "]:", "{{", "é", _JOIN]
    rng = random.Random(11)
    for _ in range(20_000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert inert(value) == _inert_every_pass(value), value
