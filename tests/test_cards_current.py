"""Every card about a thing shows its current state, with buttons only for what can still be done:
reminder cards after the review, the ended restriction's card, headings that stay true."""

from datetime import UTC, date, datetime

import pytest

from bot.app import SERVICES
from dialogs import reviews
from tests.support.dialog import closing_text, open_from, texts, universal
from tests.support.harness import BotHarness
from tests.support.teams import AMY, KIM, SAM
from tests.test_decide import HAL, ROLES, WES
from tests.test_reviews import CHRISTMAS, _day_by_day, _restrict


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


OUTCOMES = ("Continue", "Vary", "Lift")


def _titles(card: dict) -> list[str]:
    return [a.get("title", "") for a in card.get("actions", [])]


async def test_reminder_headings_name_dates_and_earlier_cards_lose_their_buttons_once_reviewed(council):
    await _restrict(council, restriction_1_review_due_on="2026-12-24")
    services = council.app[SERVICES]
    council.connector.clear()
    council.clock.now = datetime(2026, 12, 10, 10, tzinfo=UTC)
    await reviews.sweep_reviews(services)
    council.clock.now = datetime(2026, 12, 24, 10, tzinfo=UTC)
    await reviews.sweep_reviews(services)
    await council.deliver()
    soon, due = [s for s in council.connector.to(AMY.chat_id) if s.method == "POST"]
    assert soon.activity["summary"] == "A review is due in 14 days"  # the preview, true when sent
    for sent in (soon, due):
        assert "A review is due by Thu 24 Dec 2026" in texts(sent.card)  # true whenever it is read
        assert "in 14 days" not in texts(sent.card) and "due today" not in texts(sent.card)
        assert set(OUTCOMES) <= set(_titles(sent.card))
    # Viewed two days later, the card is refreshed: the same truth, and still reviewable.
    council.clock.now = datetime(2026, 12, 26, 10, tzinfo=UTC)
    viewed = await universal(council, AMY, "review.refresh", {"restriction": 1, "due": "2026-12-24"})
    assert "A review is overdue: it was due by Thu 24 Dec 2026" in texts(viewed)
    form = await open_from(council, AMY, due.card, "Continue")
    await form.press("Record review", reasons="Still calling daily.", next_review_on="2027-03-24")
    council.connector.clear()
    await council.deliver()
    updated = [s for s in council.connector.to(AMY.chat_id) if s.method == "PUT"]
    assert len(updated) == 2  # both cards: the one used and the one 14 days before
    for sent in updated:
        assert not set(OUTCOMES) & set(_titles(sent.card)), _titles(sent.card)
        assert "Continued by Amy Manager" in texts(sent.card)
    # Refreshed later, in the next review's cycle, the earlier card still shows what it was about.
    council.clock.now = datetime(2027, 3, 20, 10, tzinfo=UTC)
    viewed = await universal(council, AMY, "review.refresh", {"restriction": 1, "due": "2026-12-24"})
    assert not set(OUTCOMES) & set(_titles(viewed))
    assert "The review due by Thu 24 Dec 2026 was recorded: continue, by Amy Manager" in texts(viewed)


async def test_the_ended_restrictions_card_has_no_review_date_and_offers_reinstate(council):
    await _restrict(council, restriction_1_ends_on="2026-12-20", restriction_1_review_due_on="2026-12-24")
    services = council.app[SERVICES]
    council.clock.now = datetime(2026, 12, 10, 10, tzinfo=UTC)
    await reviews.sweep_reviews(services)  # the due-soon reminder, with its buttons
    await council.deliver()
    council.connector.clear()
    council.clock.now = datetime(2026, 12, 21, 10, tzinfo=UTC)
    assert await reviews.sweep_expiry(services) == 1
    await council.deliver()
    (ended,) = [s.card for s in council.connector.to(AMY.chat_id) if s.method == "POST"]
    (reminder,) = [s.card for s in council.connector.to(AMY.chat_id) if s.method == "PUT"]
    assert not set(OUTCOMES) & set(_titles(reminder)) and "Reinstate" in _titles(reminder)
    shown = texts(ended)
    assert "Review due" not in shown and "Thu 24 Dec 2026" not in shown
    assert "Ended: it reached its end date" in shown
    assert _titles(ended) == ["Reinstate"]
    form = await open_from(council, AMY, ended, "Reinstate")
    assert "Reinstate a restriction" in texts(form.card)
    # The due-soon reminder sent on 10 December no longer offers a review of it.
    refreshed = await universal(council, AMY, "review.refresh", {"restriction": 1, "due": "2026-12-24"})
    assert not set(OUTCOMES) & set(_titles(refreshed)) and "Reinstate" in _titles(refreshed)
    await form.press("Reinstate", reasons="Abusive calls resumed.", needs_considered="yes")
    assert "Reinstated by Amy Manager" in closing_text(form)


async def test_the_keepers_escalation_card_oversees_and_offers_no_review(council):
    await _restrict(council, restriction_1_review_due_on="2026-12-24")
    # Ten working days overdue, less the Scottish New Year holidays (1 and 4 January).
    received = await _day_by_day(council, date(2027, 1, 13))  # stops after the 13th's sweep
    assert received[-1] == (date(2027, 1, 13), "Kim", "Review overdue: Pat Jones · TD6 0SA")
    (card,) = [s.card for s in council.connector.to(KIM.chat_id) if s.cards]
    assert "A review is overdue: it was due by Thu 24 Dec 2026" in texts(card)
    assert not set(OUTCOMES) & set(_titles(card))
    viewed = await universal(council, KIM, "review.refresh", {"restriction": 1, "due": "2026-12-24"})
    assert not set(OUTCOMES) & set(_titles(viewed))
