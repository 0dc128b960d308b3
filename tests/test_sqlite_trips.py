"""On SQLite a report's Send and a manager's decision each go to the register's threads in a few
trips: every trip is a wait for the event loop, and a write's trips hold up every other writer.

These count trips, not time: a change that awaits one more statement on the way fails here.
"""

import aiosqlite
import pytest

from storage.models import Decision, Incident, OutboxMessage
from tests import test_decide
from tests.support.dialog import Dialog, press_execute, texts
from tests.support.reporting import to_check
from tests.support.teams import AMY, SAM
from tests.test_decide import ACTIVE, _reported

council = test_decide.council  # the same council, as a fixture of this module

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def trips(monkeypatch) -> list[object]:
    """Each trip to any aiosqlite thread, from when the test asks."""
    counted: list[object] = []
    original = aiosqlite.Connection._execute

    async def counting(self, fn, *args, **kwargs):
        counted.append(fn)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return counted


async def test_a_send_is_two_trips_who_is_sending_and_all_it_reads_checks_and_writes(council, trips):
    dialog = Dialog(council, SAM)
    await to_check(
        dialog, {"new_name": "Pat Jones", "new_address": "1 High Street", "new_postcode": "TD6 0SA"}
    )
    trips.clear()
    await dialog.press("Send")
    assert (dialog.closing_message or "").startswith("Reported as INC-")
    # The turn's first read; then the draft, customer, deciders and history, the checks, the
    # incident, its cards, the draft's deletion and the audit events, with the commit.
    assert len(trips) == 2
    assert len(await council.rows(Incident)) == 1
    assert len(await council.rows(OutboxMessage)) >= 2  # a manager's card and Sam's confirmation


@pytest.mark.parametrize("kind", ["none", "active"])
async def test_a_decision_writes_and_commits_in_one_trip(council, trips, kind):
    _, card = await _reported(council)
    if kind == "none":
        form = await press_execute(council, AMY, card, "No further action")
        values = {"reasons": "A one-off; the customer apologised."}
    else:
        form = await press_execute(council, AMY, card, "Active management")
        values = ACTIVE
    trips.clear()
    decided = await press_execute(council, AMY, form, "Record decision", **values)
    # The turn's first read; the incident, deciders, history and the copies of the card to
    # replace; the claim, decision, restrictions, letter, history, card updates and audit
    # events, with the commit.
    assert len(trips) == 3
    assert "Decided:" in texts(decided)
    (decision,) = await council.rows(Decision)
    assert decision.decided_by_id is not None
