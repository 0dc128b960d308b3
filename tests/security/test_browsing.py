"""Nobody can list the register by searching it (issue 25, item 5).

A reporter, or someone at the counter, needs the right customer, not a list: a search needs a name
and one more detail that both agree, shows a hint rather than the details, lists nobody when too
many match, and is a read of the register that the keepers' monthly access report lists.
"""

import json
from datetime import UTC, datetime

import pytest

from bot.app import SERVICES
from dialogs import register_reports
from storage.models import AuditEvent, Customer
from tests.support.dialog import Dialog, errors, inputs, texts
from tests.support.teams import AMY, KIM, SAM

JOHN = {
    "name": "John Norris",
    "customer_reference": "CUS-1042",
    "postcode": "TD6 0SA",
    "email": "john.norris@mail.example",
    "phone": "01896 555123",
    "address": "7 Abbey Close, Melrose",
}
# Customers with no restriction, whose names and postcodes a fragment used to list.
OTHERS = [
    {"name": "Nora Blake", "customer_reference": "CUS-2001", "postcode": "TD6 9AB"},
    {"name": "Norman Reid", "customer_reference": "CUS-2002", "postcode": "TD6 1XY"},
    {"name": "Eleanor Norton", "customer_reference": "CUS-2003", "postcode": "EH1 1AA"},
]
NAMES = [JOHN["name"], *(o["name"] for o in OTHERS)]


async def _add(harness, **fields: str) -> int:
    async with harness.sessions() as session:
        customer = Customer(created_at=harness.clock(), **fields)
        session.add(customer)
        await session.commit()
        return customer.id


@pytest.fixture
async def council(harness):
    await harness.import_roles()
    for person in (AMY, KIM, SAM):
        await harness.say(person, "hi")
    harness.connector.clear()
    harness.john = await _add(harness, **JOHN)
    for other in OTHERS:
        await _add(harness, **other)
    return harness


async def _search(harness, query: str) -> dict:
    dialog = Dialog(harness, SAM)
    await dialog.open()
    return await dialog.press("Search", customer_query=query)


def _listed(card: dict) -> list[str]:
    found = inputs(card).get("customer_id")
    return [c["title"] for c in found["choices"] if c["value"] != "new"] if found else []


@pytest.mark.parametrize(
    ("query", "asked"),
    [
        ("nor", "Add one more detail to the name"),
        ("john norris", "Add one more detail to the name"),
        ("TD6", "Add the customer's name"),
        ("TD6 0SA", "Add the customer's name"),
        ("no TD6 0SA", "Add the customer's name"),  # "no" is no name
        ("nor TD6", None),  # a postcode district is not the postcode: nobody matches both
    ],
)
async def test_a_fragment_lists_nobody_and_the_form_says_what_is_needed(council, query, asked):
    card = await _search(council, query)
    assert _listed(card) == []
    shown = texts(card)
    for name in NAMES:
        assert name not in shown
    if asked:
        (problem,) = errors(card)
        assert problem.startswith(asked)
    else:
        assert errors(card) == []
        assert "No customer in the register matches both" in shown


async def test_a_name_with_the_postcode_finds_the_customer_showing_only_a_hint(council):
    card = await _search(council, "jon noris td60sa")  # misspelt, postcode unspaced
    assert _listed(card) == ["John Norris · reference ends 042 · postcode TD6 •••"]
    outside_the_search_box = json.dumps(
        [e for e in card["body"] if e.get("id") != "customer_query"], ensure_ascii=False
    )
    for detail in ("CUS-1042", "TD6 0SA", "Abbey Close", "john.norris@mail.example", "555123"):
        assert detail not in outside_the_search_box


@pytest.mark.parametrize(
    "query", ["John Norris cus1042", "norris JOHN.NORRIS@mail.example", "John Norris +44 1896 555123"]
)
async def test_a_name_with_the_reference_email_or_phone_finds_them_too(council, query):
    assert _listed(await _search(council, query)) == ["John Norris · reference ends 042 · postcode TD6 •••"]


async def test_too_many_matches_list_nobody_and_ask_for_more(council):
    for n in range(6):
        await _add(council, name=f"Pat Smith{'e' * n}", postcode="TD1 1AA")
    card = await _search(council, "pat smith TD1 1AA")
    assert _listed(card) == []
    assert errors(card) == ["More than 5 customers match: add more of the name, or their customer reference"]
    assert "Pat Smith" not in texts(card).replace("pat smith TD1 1AA", "")


async def test_a_search_is_audited_with_the_ids_shown_and_nothing_typed(council):
    await _search(council, "nor")
    await _search(council, "John Norris TD6 0SA")
    events = await council.rows(AuditEvent, AuditEvent.action == "customer.searched")
    assert [(e.record_type, e.record_id, e.detail) for e in events] == [
        ("customer", None, {"shown": []}),  # showed nobody: no customer named
        ("customer", str(council.john), {"shown": [council.john]}),
    ]
    written = json.dumps([e.detail for e in events]).lower()
    for typed in ("nor", "td6", "john"):
        assert typed not in written


async def test_the_monthly_access_report_lists_who_searched_whom(council):
    await _search(council, "John Norris TD6 0SA")
    await _search(council, "nor")
    council.clock.now = datetime(2026, 12, 1, 10, tzinfo=UTC)  # the first working day of December
    assert await register_reports.monthly_access_report(council.app[SERVICES]) == 1
    council.connector.clear()
    await council.deliver()
    (report,) = council.connector.to(KIM.chat_id)
    shown = texts(report.card)
    assert "Who viewed customer records: November 2026" in shown
    assert SAM.name in shown
    assert f"customer {council.john} ×1" in shown
    assert "customer search showing nobody ×1" in shown


@pytest.mark.parametrize("query", ["nor", "norris", "TD6 0SA", "TD6", "no TD6 0SA"])
async def test_check_lists_nobody_for_a_fragment(council, query):
    (reply,) = await council.say(SAM, f"check {query}")
    assert reply.cards == []
    assert "Type **check** followed by the customer's name" in reply.text
    for name in NAMES:
        assert name not in reply.text
    checked = await council.rows(AuditEvent, AuditEvent.action == "customer.checked")
    assert [(e.record_id, e.detail) for e in checked] == [(None, {"matched": 0})]


@pytest.mark.parametrize("query", ["John Norris TD6 0SA", "CUS-1042", "cus1042"])
async def test_check_finds_one_customer_by_name_and_detail_or_an_exact_reference(council, query):
    (reply,) = await council.say(SAM, f"check {query}")
    assert "deal with them as normal" in texts(reply.card)  # John has no restriction
    checked = await council.rows(AuditEvent, AuditEvent.action == "customer.checked")
    assert [(e.record_id, e.detail) for e in checked] == [(str(council.john), {"instructions_shown": False})]
