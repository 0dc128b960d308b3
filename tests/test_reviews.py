"""Restrictions reviewed on time: months of reminders driven by the clock, through the real bot."""

import asyncio
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from docx import Document

from bot.app import SERVICES, build_services
from dialogs import reviews
from storage.db import create_engine, session_factory
from storage.models import AuditEvent, Letter, OutboxMessage, Restriction, Review
from tests.support.dialog import (
    button,
    closing_text,
    latest_card,
    open_from,
    press_execute,
    submit_dialog,
    texts,
    universal,
    values,
)
from tests.support.harness import BotHarness
from tests.support.reporting import report
from tests.support.teams import AMY, KIM, SAM
from tests.test_decide import ACTIVE, HAL, ROLES, WES, _download, _local, _walk_actions

CHRISTMAS = frozenset({date(2026, 12, 25), date(2026, 12, 28)})


@pytest.fixture
async def council(database_url, connector, clock):
    bot = BotHarness(database_url, connector, clock, bank_holidays=CHRISTMAS)
    await bot.start()
    await bot.import_roles(ROLES)
    for person in (AMY, HAL, WES, KIM, SAM):
        await bot.say(person, "hi")
    connector.clear()
    yield bot
    await bot.stop()


async def _restrict(council, **restriction) -> Restriction:
    """Report, then Amy restricts the customer; returns the restriction."""
    await report(council, SAM)
    await council.deliver()
    (notice,) = [s for s in council.connector.to(AMY.chat_id) if s.method == "POST"]
    form = await open_from(council, AMY, notice.card, "Active management")
    assert await form.press("Record decision", **{**ACTIVE, **restriction}) is None
    await council.deliver()
    council.connector.clear()
    (restriction_row,) = await council.rows(Restriction)
    return restriction_row


async def _day_by_day(council, until: date, *, at_hour: int = 10) -> list[tuple[date, str, str]]:
    """Run the sweeps each day at `at_hour` UTC; what arrived, when, and to whom."""
    services = council.app[SERVICES]
    received: list[tuple[date, str, str]] = []
    while council.clock().date() < until:
        council.clock.now = datetime.combine(
            council.clock().date() + timedelta(days=1), datetime.min.time(), UTC
        ).replace(hour=at_hour)
        await reviews.sweep_reviews(services)
        await reviews.sweep_expiry(services)
        council.connector.clear()
        await council.deliver()
        for sent in council.connector.sent:
            who = {AMY.chat_id: "Amy", KIM.chat_id: "Kim", HAL.chat_id: "Hal"}.get(sent.conversation_id, "?")
            received.append((council.clock().date(), who, sent.activity.get("summary", "")))
    return received


async def test_the_reviewer_is_reminded_on_time_and_the_keepers_told_when_it_is_overdue(council):
    restriction = await _restrict(council, restriction_1_review_due_on="2026-12-24")
    assert restriction.next_reminder_on == date(2026, 12, 10)
    received = await _day_by_day(council, date(2027, 1, 20))
    assert received == [
        (date(2026, 12, 10), "Amy", "A review is due in 14 days"),
        (date(2026, 12, 24), "Amy", "A review is due today"),
        (date(2026, 12, 31), "Amy", "A review is overdue"),  # three working days, over Christmas
        # Ten working days, less Scotland's New Year holidays (1 January, and 4 January for the 2nd).
        (date(2027, 1, 13), "Kim", "Review overdue: Pat Jones · TD6 0SA"),
    ]
    (row,) = await council.rows(Restriction)
    assert (row.next_reminder_on, row.reminder_stage) == (None, "escalated")


async def test_reminders_wait_for_working_hours(council):
    await _restrict(council, restriction_1_review_due_on="2026-12-12")  # a Saturday
    services = council.app[SERVICES]
    council.clock.now = datetime(2026, 11, 28, 10, tzinfo=UTC)  # Saturday: 14 days before
    assert await reviews.sweep_reviews(services) == 0
    council.clock.now = datetime(2026, 11, 30, 10, tzinfo=UTC)  # Monday: St Andrew's Day, a holiday
    assert await reviews.sweep_reviews(services) == 0
    council.clock.now = datetime(2026, 12, 1, 3, tzinfo=UTC)  # Tuesday, 3 a.m.
    assert await reviews.sweep_reviews(services) == 0
    council.clock.now = datetime(2026, 12, 1, 9, tzinfo=UTC)  # Tuesday, 09:00
    assert await reviews.sweep_reviews(services) == 1
    assert await reviews.sweep_reviews(services) == 0


async def test_working_hours_follow_british_summer_time(council):
    await _restrict(council, restriction_1_review_due_on="2027-04-06")
    services = council.app[SERVICES]
    council.clock.now = datetime(2027, 3, 23, 8, 30, tzinfo=UTC)  # 08:30 GMT: not yet open
    assert await reviews.sweep_reviews(services) == 0
    council.clock.now = datetime(2027, 3, 23, 9, 0, tzinfo=UTC)
    assert await reviews.sweep_reviews(services) == 1  # due in 14 days
    council.clock.now = datetime(2027, 4, 6, 8, 30, tzinfo=UTC)  # 09:30 BST: open
    assert await reviews.sweep_reviews(services) == 1  # due today
    council.clock.now = datetime(2027, 4, 9, 16, 30, tzinfo=UTC)  # 17:30 BST: closed
    assert await reviews.sweep_reviews(services) == 0


async def test_a_restart_in_the_middle_of_a_sweep_loses_and_repeats_nothing(council, monkeypatch):
    await _restrict(council, restriction_1_review_due_on="2026-12-24")
    await report(council, SAM, customer={"customer_query": "pat jones TD6 0SA", "customer_id": "1"})
    await council.deliver()
    second = [s for s in council.connector.to(AMY.chat_id) if s.method == "POST"][-1]
    form = await open_from(council, AMY, second.card, "Active management")
    await form.press("Record decision", **{**ACTIVE, "restriction_1_review_due_on": "2026-12-24"})
    services = council.app[SERVICES]
    council.clock.now = datetime(2026, 12, 10, 10, tzinfo=UTC)
    real = reviews._remind
    calls = 0

    async def dies_on_the_second(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise SystemExit("the process is killed here")
        await real(*args, **kwargs)

    monkeypatch.setattr(reviews, "_remind", dies_on_the_second)
    with pytest.raises(SystemExit):
        await reviews.sweep_reviews(services)
    monkeypatch.setattr(reviews, "_remind", real)
    assert len(await council.rows(OutboxMessage, OutboxMessage.purpose == "review.due_soon")) == 1
    assert await reviews.sweep_reviews(services) == 1  # the one the crash interrupted, once
    assert await reviews.sweep_reviews(services) == 0
    due_soon = await council.rows(OutboxMessage, OutboxMessage.purpose == "review.due_soon")
    assert sorted(m.record_id for m in due_soon) == ["1", "2"]


async def test_two_bot_instances_sweeping_at_once_send_each_reminder_once(council, database_url):
    for _ in range(3):
        await _restrict_again(council)
    council.clock.now = datetime(2026, 12, 10, 10, tzinfo=UTC)
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        instances = [
            build_services(council.settings, session_factory(e), council.clock, lambda: None) for e in engines
        ]
        counts = await asyncio.gather(*(reviews.sweep_reviews(s) for s in instances))
    finally:
        for e in engines:
            await e.dispose()
    assert sum(counts) == 3
    assert len(await council.rows(OutboxMessage, OutboxMessage.purpose == "review.due_soon")) == 3


async def _restrict_again(council) -> None:
    await report(council, SAM)
    await council.deliver()
    latest = [s for s in council.connector.to(AMY.chat_id) if s.method == "POST"][-1]
    council.connector.clear()
    form = await open_from(council, AMY, latest.card, "Active management")
    await form.press("Record decision", **{**ACTIVE, "restriction_1_review_due_on": "2026-12-24"})


async def test_teams_down_then_back_delivers_each_reminder_once(council):
    await _restrict(council, restriction_1_review_due_on="2026-12-24")
    services = council.app[SERVICES]
    council.clock.now = datetime(2026, 12, 10, 10, tzinfo=UTC)
    assert await reviews.sweep_reviews(services) == 1
    council.connector.fail(503, times=6)
    council.connector.fail(429, times=2, retry_after="30")
    for _ in range(20):
        await council.deliver()
        council.clock.advance(minutes=2)
        await reviews.sweep_reviews(services)
    reminders = [
        s
        for s in council.connector.to(AMY.chat_id)
        if s.activity.get("summary") == "A review is due in 14 days"
    ]
    assert len(reminders) == 1
    assert council.connector.refused == 8


async def _review_card(council) -> dict:
    services = council.app[SERVICES]
    council.clock.now = datetime(2026, 12, 24, 10, tzinfo=UTC)
    await reviews.sweep_reviews(services)
    await council.deliver()
    (card,) = [
        s.card
        for s in council.connector.to(AMY.chat_id)
        if s.activity.get("summary") == "A review is due today"
    ]
    return card


async def test_continue_sets_the_next_review_and_the_schedule_starts_again(council):
    await _restrict(council, restriction_1_review_due_on="2026-12-24")
    card = await _review_card(council)
    shown = texts(card)
    assert "Restricting contact to named channels" in shown and "Incidents since it began" in shown
    form = await open_from(council, AMY, card, "Continue")
    stale = await open_from(council, HAL, card, "Continue")
    refused = await form.press("Record review", reasons="Still calling daily.", next_review_on="2028-06-01")
    assert "Review within 12 months, by 2027-12-24" in texts(refused)
    await form.press("Record review", reasons="Still calling daily.", next_review_on="2027-03-24")
    assert "Continued by Amy Manager; next review by Wed 24 Mar 2027." in closing_text(form)
    # The reminder card itself now shows the outcome, updated in place.
    council.connector.clear()
    done = await latest_card(council, AMY)
    assert "Continued by Amy Manager; next review by Wed 24 Mar 2027." in texts(done)
    assert [s.method for s in council.connector.to(AMY.chat_id)] == ["PUT"]
    (row,) = await council.rows(Restriction)
    assert (row.status, row.review_due_on, row.next_reminder_on, row.reminder_stage) == (
        "active",
        date(2027, 3, 24),
        date(2027, 3, 10),
        None,
    )
    (review,) = await council.rows(Review)
    assert (review.outcome, review.due_on, review.next_review_on) == (
        "continue",
        date(2026, 12, 24),
        date(2027, 3, 24),
    )
    await stale.press("Record review", reasons="Me too.", next_review_on="2027-02-01")
    assert "already recorded. Nothing was changed." in closing_text(stale)
    assert len(await council.rows(Review)) == 1


async def test_vary_replaces_the_restriction_and_produces_a_new_letter(council):
    await _restrict(council, restriction_1_review_due_on="2026-12-24")
    card = await _review_card(council)
    form = await open_from(council, AMY, card, "Vary")
    assert "Were the customer's support needs and reasonable adjustments considered?" in texts(form.card)
    refused = await form.press(
        "Record review",
        reasons="Calls are calmer; email and one call a week.",
        customer_explanation="Your calls have been calmer, so we can take one call a week again.",
        restriction_1_type="limit_time_volume_topics",
        restriction_1_details="One call a week, 20 minutes, plus email.",
        restriction_1_frontline_instructions="Take one call a week (Tuesdays), up to 20 minutes.",
    )
    assert "Answer whether the customer's support needs and reasonable adjustments were considered" in texts(
        refused
    )
    assert len(await council.rows(Restriction)) == 1
    await form.press(
        "Record review",
        needs_considered="yes",
        needs_considered_note="Anxiety: a fixed weekly call suits them better than none.",
        reasons="Calls are calmer; email and one call a week.",
        restriction_1_type="limit_time_volume_topics",
        restriction_1_details="One call a week, 20 minutes, plus email.",
        restriction_1_frontline_instructions="Take one call a week (Tuesdays), up to 20 minutes.",
    )
    assert "Varied by Amy Manager" in closing_text(form)
    (review,) = await council.rows(Review)
    assert (review.needs_considered, review.needs_considered_note) == (
        True,
        "Anxiety: a fixed weekly call suits them better than none.",
    )
    done = await latest_card(council, AMY)
    assert "Varied by Amy Manager" in texts(done)
    old, new = sorted(await council.rows(Restriction), key=lambda r: r.id)
    assert (old.status, new.status, new.replaces_id, new.type) == (
        "varied",
        "active",
        old.id,
        "limit_time_volume_topics",
    )
    assert new.review_due_on == date(2027, 6, 24)
    (letter,) = await council.rows(Letter, Letter.kind == "variation")
    assert letter.restriction_id == new.id
    ready = await press_execute(council, AMY, done, "Download letter")
    (link,) = [a for a in _walk_actions(ready) if a.get("type") == "Action.OpenUrl"]
    status, body = await _download(council, _local(council, link["url"]))
    words = "\n".join(p.text for p in Document(io.BytesIO(body)).paragraphs)
    assert status == 200
    assert "Changes to how you contact us" in words
    assert "One call a week, 20 minutes, plus email." in words
    assert "Your calls have been calmer" in words
    assert "Calls are calmer" not in words  # the reviewer's internal reasons
    assert "We will limit how long, how often or about what you contact us" in words


async def test_a_variation_cannot_set_dates_beyond_ten_years(council):
    await _restrict(council, restriction_1_review_due_on="2026-12-24")
    card = await _review_card(council)
    form = await open_from(council, AMY, card, "Vary")
    refused = await form.press(
        "Record review",
        reasons="Calls are calmer.",
        restriction_1_type="limit_time_volume_topics",
        restriction_1_details="One call a week.",
        restriction_1_frontline_instructions="Take one call a week.",
        restriction_1_ends_on="9999-12-31",
    )
    assert "no decision reaches more than 10 years ahead, to 2036-12-24" in texts(refused)
    assert len(await council.rows(Restriction)) == 1


@pytest.mark.parametrize(("notify", "letters"), [("yes", 1), ("no", 0)])
async def test_lifting_records_whether_the_customer_is_told(council, notify, letters):
    await _restrict(council, restriction_1_review_due_on="2026-12-24")
    card = await _review_card(council)
    form = await open_from(council, AMY, card, "Lift")
    assert "ombudsmen have found fault where people were never told" in texts(form.card)
    await form.press("Record review", reasons="No contact problems for 6 weeks.", notify_customer=notify)
    assert "Lifted by Amy Manager" in closing_text(form)
    (row,) = await council.rows(Restriction)
    assert (row.status, row.next_reminder_on) == ("lifted", None)
    (review,) = await council.rows(Review)
    assert review.customer_notified is (notify == "yes")
    assert len(await council.rows(Letter, Letter.kind == "lifted")) == letters
    (answer,) = await council.say(SAM, "check pat jones TD6 0SA")
    assert "has active restrictions: deal with them as normal" in texts(answer.card)


async def test_a_restriction_with_an_end_date_ends_by_itself_and_the_decider_is_told(council):
    await _restrict(council, restriction_1_ends_on="2026-12-01", restriction_1_review_due_on="2026-11-30")
    received = await _day_by_day(council, date(2026, 12, 3))
    assert (date(2026, 12, 2), "Amy", "Restriction ended: Pat Jones · TD6 0SA") in received
    (row,) = await council.rows(Restriction)
    assert row.status == "expired"
    assert [e.action for e in await council.rows(AuditEvent, AuditEvent.action == "restriction.expired")] == [
        "restriction.expired"
    ]


async def test_a_lifted_restriction_can_be_reinstated_from_the_record_with_a_letter(council):
    await _restrict(council, restriction_1_review_due_on="2026-12-24")
    card = await _review_card(council)
    form = await open_from(council, AMY, card, "Lift")
    await form.press("Record review", reasons="Calmer.", notify_customer="yes")
    await council.say(HAL, "check pat jones TD6 0SA")  # nothing active now; Hal manages housing
    record = await submit_dialog(council, HAL, {"verb": "customer.record", "customer": 1})
    form = await record.press("Reinstate: Restricting contact to named channels (lifted)")
    refused = await record.press("Reinstate")
    assert "Record why engagement deteriorated and the restriction is reinstated" in texts(refused)
    await record.press(
        "Reinstate",
        reasons="Abusive emails resumed on 20 December.",
        customer_explanation="Since 20 December you have again sent us abusive emails.",
        needs_considered="yes",
    )
    assert "Reinstated by Hal Manager" in closing_text(record)
    done = await latest_card(council, HAL)
    assert "Reinstated by Hal Manager" in texts(done)
    old, new = sorted(await council.rows(Restriction), key=lambda r: r.id)
    assert (new.status, new.replaces_id, new.reviewer_id is not None) == ("active", old.id, True)
    (letter,) = await council.rows(Letter, Letter.kind == "reinstatement")
    ready = await press_execute(council, HAL, done, "Download letter")
    (link,) = [a for a in _walk_actions(ready) if a.get("type") == "Action.OpenUrl"]
    status, body = await _download(council, _local(council, link["url"]))
    words = "\n".join(p.text for p in Document(io.BytesIO(body)).paragraphs)
    assert status == 200
    assert "The arrangements for contacting us apply again" in words
    assert "Since 20 December you have again sent us abusive emails." in words
    assert "Abusive emails resumed" not in words
    assert letter.restriction_id == new.id
    again = await submit_dialog(
        council, HAL, {**values(form), **button(form, "Reinstate"), "reasons": "Pressed twice."}
    )
    assert "already reinstated. Nothing was changed." in closing_text(again)
    assert len(await council.rows(Restriction)) == 2


async def test_staff_cannot_review_or_reinstate_whatever_the_card_says(council):
    await _restrict(council, restriction_1_review_due_on="2026-12-24")
    for verb, data in (
        ("review.submit", {"restriction": 1, "outcome": "lift", "reasons": "x", "notify_customer": "no"}),
        ("restriction.reinstate", {"restriction": 1, "reasons": "x"}),
        ("review.refresh", {"restriction": "1 or 1=1"}),
    ):
        for outsider in (SAM, WES):
            answer = await submit_dialog(council, outsider, {"verb": verb, **data})
            assert "You do not have access" in closing_text(answer)
            answer = await universal(council, outsider, verb, data)
            assert "You do not have access" in texts(answer)
    for forged in ("1 or 1=1", ["1"], None, "99"):  # as a manager who may review
        answer = await submit_dialog(
            council, AMY, {"verb": "review.submit", "restriction": forged, "outcome": "lift"}
        )
        assert "You do not have access" in closing_text(answer)
    answer = await submit_dialog(
        council, AMY, {"verb": "review.form", "restriction": 1, "outcome": "reinstate", "due": "2026-12-24"}
    )
    assert "That is not a review outcome." in closing_text(answer)
    (row,) = await council.rows(Restriction)
    assert row.status == "active"


async def test_follow_ups_remind_the_manager_on_their_date(council):
    await report(council, SAM)
    await council.deliver()
    (notice,) = [s for s in council.connector.to(AMY.chat_id) if s.method == "POST"]
    form = await open_from(council, AMY, notice.card, "Restorative approach")
    await form.press(
        "Record decision",
        reasons="Talked it through.",
        restorative_steps="discussed_behaviour",
        follow_up_on="2026-12-07",
    )
    services = council.app[SERVICES]
    council.clock.now = datetime(2026, 12, 4, 10, tzinfo=UTC)
    assert await reviews.sweep_follow_ups(services) == 0
    council.clock.now = datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert await reviews.sweep_follow_ups(services) == 1
    assert await reviews.sweep_follow_ups(services) == 0


async def test_a_message_that_fails_for_good_is_shown_to_the_register_keepers(council):
    await _restrict(council, restriction_1_review_due_on="2026-12-24")
    services = council.app[SERVICES]
    council.clock.now = datetime(2026, 12, 10, 10, tzinfo=UTC)
    await reviews.sweep_reviews(services)
    council.connector.fail(403, times=1)  # Amy has left: Teams refuses for good
    await council.deliver()
    (notice,) = council.connector.to(KIM.chat_id)
    shown = texts(notice.card)
    assert "A notification could not be delivered" in shown and "Amy Manager" in shown and "HTTP 403" in shown
    (listing,) = await council.say(KIM, "undelivered")
    assert "Failed · review.due_soon · to Amy Manager" in texts(listing.card)
    (refused,) = await council.say(SAM, "undelivered")
    assert "Only some roles may use" in refused.text


async def test_continuing_tells_the_customer_in_a_letter_whose_fate_is_recorded(council):
    await _restrict(council, restriction_1_review_due_on="2026-12-24")
    card = await _review_card(council)
    form = await open_from(council, AMY, card, "Continue")
    assert "The customer is told in writing that it continues" in texts(form.card)
    await form.press(
        "Record review",
        reasons="Still calling daily, though shorter.",
        customer_explanation="You still call us every day, though the calls are shorter.",
        next_review_on="2027-03-24",
    )
    done = await latest_card(council, AMY)
    (letter,) = await council.rows(Letter, Letter.kind == "continuation")
    (review,) = await council.rows(Review)
    assert (letter.review_id, letter.restriction_id, letter.sent_on) == (review.id, 1, None)
    ready = await press_execute(council, AMY, done, "Download letter")
    (link,) = [a for a in _walk_actions(ready) if a.get("type") == "Action.OpenUrl"]
    status, body = await _download(council, _local(council, link["url"]))
    words = "\n".join(p.text for p in Document(io.BytesIO(body)).paragraphs)
    assert status == 200
    for said in (
        "Your arrangements for contacting us continue",  # what
        "You may contact us only in the ways set out here",
        "You still call us every day, though the calls are shorter.",  # why, written for the customer
        "We will review the arrangements again by 24 March 2027 and write to you with the outcome",
        # The right of appeal, to the group, 20 working days less Christmas and New Year's holidays.
        "considered by the Complaints Review Group",
        "by 27 January 2027",
    ):
        assert said in words, said
    assert "Still calling daily" not in words  # the internal reasons stay in the register
    sent = await press_execute(council, AMY, done, "Record letter sent")
    await press_execute(council, AMY, sent, "Record", sent_on="2026-12-24", method="post")
    (letter,) = await council.rows(Letter, Letter.kind == "continuation")
    assert (letter.sent_on, letter.method) == (date(2026, 12, 24), "post")
