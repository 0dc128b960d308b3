"""What customers and reporters write is shown as words: never a link, a mention, a button, or
something that breaks a letter or the register."""

import io
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from docx import Document

import letters
from letters.content import TEMPLATE_NAMES
from letters.render import render, template_fields
from storage.models import Customer, Incident
from tests.support.dialog import decide, press_execute, walk
from tests.support.reporting import report
from tests.support.teams import AMY, SAM
from tests.test_decide import ACTIVE, _local

HOSTILE_NAME = "Pat [Approve now](https://evil.example/approve) <at>Amy Manager</at>"
HOSTILE_ADDRESS = "1 High Street, see www.evil.example\x0b"
HOSTILE_DESCRIPTION = (
    "Shouted.\x00 Then wrote: click [here](javascript:alert(1)) or <https://evil.example>, "
    "[ref]: https://evil.example {{DATE(2017-02-14T06:08:00Z,SHORT)}} \ud800 </w:t></w:r><w:p> ]]> &amp;"
)
# What would make text active in a Teams card: a Markdown link, a bare or angled URL, a
# www. address, a mention tag, a date function.
ACTIVE_MARKUP = re.compile(r"\]\(|\]:|://|www\.|<at\b|\{\{", re.IGNORECASE)


@pytest.fixture
async def council(harness):
    await harness.import_roles()
    for person in (AMY, SAM):
        await harness.say(person, "hi")
    harness.connector.clear()
    return harness


def _shown(card: dict[str, Any]) -> list[str]:
    """Every piece of Markdown the card renders: text blocks and fact values."""
    found = []
    for node in walk(card):
        if node.get("type") == "TextBlock":
            found.append(node["text"])
        if node.get("type") == "FactSet":
            found += [f["value"] for f in node["facts"]] + [f["title"] for f in node["facts"]]
    return found


async def _reported(council) -> dict[str, Any]:
    reference = await report(
        council,
        SAM,
        customer={"new_name": HOSTILE_NAME, "new_address": HOSTILE_ADDRESS, "new_postcode": "TD6 0SA"},
        behaviour={"description": HOSTILE_DESCRIPTION},
    )
    assert reference.startswith("INC-"), "the report with hostile text was still recorded"
    await council.deliver()
    (notice,) = [s for s in council.connector.to(AMY.chat_id) if s.method == "POST"]
    return notice.card


async def test_customer_text_in_a_managers_card_cannot_link_mention_or_add_buttons(council):
    card = await _reported(council)
    shown = _shown(card)
    active = [t for t in shown if ACTIVE_MARKUP.search(t)]
    assert active == []
    everything = "\n".join(shown)
    # Still readable: the words are there, only what would make them active is split.
    for words in ("Approve now", "Amy Manager", "evil.example", "Shouted."):
        assert words in everything
    # The card's buttons are the bot's own: none named or addressed by the customer's text.
    actions = [n for n in walk(card) if str(n.get("type", "")).startswith("Action.")]
    assert actions
    assert not [a for a in actions if "Approve now" in a.get("title", "") or "evil" in str(a.get("url", ""))]
    # No mention entities, which is how a real mention would notify someone.
    assert "entities" not in card.get("msteams", {})


async def test_what_cannot_be_stored_is_dropped_and_the_rest_is_kept(council):
    await _reported(council)
    (customer,) = await council.rows(Customer)
    (incident,) = await council.rows(Incident)
    assert customer.name == HOSTILE_NAME  # exactly as typed: escaping is for display only
    assert customer.address == "1 High Street, see www.evil.example"
    assert "\x00" not in incident.description and "\ud800" not in incident.description
    assert incident.description.startswith("Shouted. Then wrote: click [here](javascript:alert(1))")


async def test_hostile_text_cannot_break_the_letter(council):
    card = await _reported(council)
    decided = await decide(
        council,
        AMY,
        card,
        "Active management",
        **{**ACTIVE, "customer_explanation": "Calls\x07 </w:t><w:p/> ]]> & <b> {{ council_name }} {% if 1 %}"},  # noqa: E501
    )
    ready = await press_execute(council, AMY, decided, "Download letter")
    (link,) = [n for n in walk(ready) if n.get("type") == "Action.OpenUrl"]
    async with aiohttp.ClientSession() as http, http.get(_local(council, link["url"])) as response:
        assert response.status == 200
        body = await response.read()
    words = "\n".join(p.text for p in Document(io.BytesIO(body)).paragraphs)
    assert HOSTILE_NAME in words  # the customer's name, as written, and nothing more
    # Markup, and Jinja written by a customer, in what they are told is text in the letter.
    assert "Calls </w:t><w:p/> ]]> & <b> {{ council_name }} {% if 1 %}" in words


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_a_letter_is_made_even_from_text_stored_before_the_edge_dropped_control_characters(name):
    template = Path(letters.__file__).parent / "templates" / f"{name}.docx"
    values = {field: "Pat\x07 Jones\x00\x0c </w:t> ]]>" for field in template_fields(template)}
    words = "\n".join(p.text for p in Document(io.BytesIO(render(template, values))).paragraphs)
    assert "Pat Jones </w:t> ]]>" in words
