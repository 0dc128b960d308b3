"""No personal data and no secret in the logs, and no secret in a card or a link; letter links
expire and are bound to the person who asked for them."""

import hashlib
import hmac
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from docx import Document

from bot.config import load_settings
from bot.logs import JsonFormatter, configure
from storage.models import Appeal, Incident
from storage.models import Person as PersonRow
from tests.support.dialog import decide, press_execute, submit_dialog, walk
from tests.support.harness import BotHarness
from tests.support.reporting import report
from tests.support.teams import AMY, CATH, CERI, KIM, SAM, Person
from tests.test_decide import ACTIVE, _local

HAL = Person.called("Hal Manager", "hal.manager@council.example")
PASSWORD = "app-password-Qw3rty-that-must-never-be-seen"
ROLES = """
[service_areas.housing]
name = "Housing"
managers = ["amy.manager@council.example", "hal.manager@council.example"]

[roles]
complaints_review_group = ["ceri.panel@council.example"]
complaints_team = ["cath.complaints@council.example"]
register_keepers = ["kim.keeper@council.example"]
"""
CUSTOMER = {
    "new_name": "Zebedee Quillfeather",
    "new_email": "zebedee.q@mailbox.example",
    "new_phone": "07700 900123",
    "new_address": "14 Lantern Wynd, Kelso",
    "new_postcode": "TD5 7QQ",
    "new_support_needs": "Hearing aid; prefers written contact",
}
FREE_TEXT = {
    "description": "Threatened to set fire to the depot gates",
    "impact_on_staff": "Receptionist left shaking",
    "impact_on_service": "Counter closed for forty minutes",
}
NOTE = "Came back at closing time with a relative"
GROUNDS = "My neighbour was the one shouting, not me"
OUTCOME_REASONS = "Panel found the gatehouse footage persuasive"
PERSONAL = [
    *CUSTOMER.values(),
    *FREE_TEXT.values(),
    NOTE,
    GROUNDS,
    OUTCOME_REASONS,
    "Zebedee",
    "Quillfeather",
]


class Lines(logging.Handler):
    """Every log record as the bot writes it in production: one JSON line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logged() -> Iterator[Lines]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure("DEBUG")  # as the bot configures itself, at its most talkative level
    lines = Lines()
    root.handlers[:] = [lines]
    yield lines
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


@pytest.fixture
async def council(database_url, connector, clock, logged) -> AsyncIterator[BotHarness]:
    bot = BotHarness(database_url, connector, clock, app_password=PASSWORD)
    await bot.start()
    await bot.import_roles(ROLES)
    for person in (AMY, HAL, KIM, SAM, CATH, CERI):
        await bot.say(person, "hi")
    connector.clear()
    yield bot
    await bot.stop()


async def _download(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.read()


async def _journey(council: BotHarness) -> tuple[dict, str]:
    """Report, decide, letter, note, check, appeal, outcome, stats and a refusal: all of it."""
    reference = await report(council, SAM, customer=CUSTOMER, behaviour=FREE_TEXT)
    await council.deliver()
    (notice,) = [s for s in council.connector.to(AMY.chat_id) if s.method == "POST"]
    decided = await decide(council, AMY, notice.card, "Active management", **ACTIVE)
    ready = await press_execute(council, AMY, decided, "Download letter")
    (link,) = [n for n in walk(ready) if n.get("type") == "Action.OpenUrl"]
    status, body = await _download(_local(council, link["url"]))
    assert status == 200 and "Zebedee Quillfeather" in "\n".join(
        p.text for p in Document(io.BytesIO(body)).paragraphs
    )
    await council.say(SAM, f"add to {reference} {NOTE}")
    await council.say(SAM, "check Zebedee Quillfeather TD5 7QQ")
    await council.say(SAM, "check Zebedee zebedee.q@mailbox.example")
    await council.say(SAM, "check Quillfeather 07700 900123")
    (incident,) = await council.rows(Incident)
    await submit_dialog(
        council,
        CATH,
        {"verb": "appeal.log", "incident": incident.id, "against": "decision", "grounds": GROUNDS}
        | {"received_on": "2026-11-23"},
    )
    (appeal,) = await council.rows(Appeal)
    await submit_dialog(
        council,
        CERI,
        {"verb": "appeal.outcome", "appeal": appeal.id, "outcome": "upheld", "reasons": OUTCOME_REASONS},
    )
    await council.say(KIM, "stats")
    await council.say(SAM, f"appeal {reference}")  # refused: staff do not log appeals
    await submit_dialog(council, SAM, {"verb": "customer.record", "customer": 1})  # refused
    await council.deliver()
    return ready, link["url"]


async def test_the_whole_journey_logs_no_personal_data_and_no_secret(council, logged):
    await _journey(council)
    assert len(logged.lines) > 30, "the journey was logged"
    for line in logged.lines:
        json.loads(line)  # every line is one JSON object
        for secret in (PASSWORD, *PERSONAL):
            assert secret.lower() not in line.lower(), (secret, line)
    derived = hmac.new(PASSWORD.encode(), b"engagement-bot letter links", hashlib.sha256).hexdigest()
    assert not [line for line in logged.lines if derived in line]


async def test_no_secret_reaches_a_card_or_a_link(council):
    ready, url = await _journey(council)
    derived = hmac.new(PASSWORD.encode(), b"engagement-bot letter links", hashlib.sha256)
    sent = json.dumps([s.activity for s in council.connector.sent]) + json.dumps(ready)
    for secret in (PASSWORD, derived.hexdigest()):
        assert secret not in sent
        assert secret not in url
    # The link carries a signature over its own fields, not the key.
    query = parse_qs(urlsplit(url).query)
    assert set(query) == {"p", "large", "expires", "sig"}


async def test_a_letter_link_expires_and_is_bound_to_the_person_who_asked(council):
    _, url = await _journey(council)
    local = _local(council, url)
    async with council.sessions() as session:
        from sqlalchemy import select

        ids = dict((await session.execute(select(PersonRow.email, PersonRow.id))).all())
    amy, hal = ids[AMY.email], ids[HAL.email]
    assert parse_qs(urlsplit(local).query)["p"] == [str(amy)]
    # Hal may have the letter himself, but not through the link made for Amy.
    as_hal = local.replace(f"p={amy}", f"p={hal}")
    assert (await _download(as_hal))[0] == 403
    assert (await _download(local.replace(".docx?", "0.docx?")))[0] == 403  # another letter
    assert (await _download(local))[0] == 200
    # Amy leaves the service: her link stops working at once, before it expires.
    await council.import_roles(ROLES.replace('"amy.manager@council.example", ', ""))
    assert (await _download(local))[0] == 403
    await council.import_roles(ROLES)
    assert (await _download(local))[0] == 200
    council.clock.advance(minutes=15, seconds=1)
    assert (await _download(local))[0] == 403


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_secrets_come_only_from_the_environment_and_never_print(database_url):
    env = {
        "MICROSOFT_APP_ID": "00000000-0000-4000-8000-00000000a991",
        "MICROSOFT_APP_PASSWORD": PASSWORD,
        "MICROSOFT_APP_TENANT_ID": "72f988bf-0000-4000-8000-00000000c0c1",
        "LINK_SIGNING_KEY": "k" * 40,
        "PUBLIC_URL": "https://engagement.council.example",
        "DATABASE_URL": database_url,
    }
    settings = load_settings(env)
    assert (settings.app_password, settings.link_signing_key) == (PASSWORD, "k" * 40)
    assert PASSWORD not in repr(settings) and "k" * 40 not in repr(settings)
    assert load_settings({"DATABASE_URL": database_url}).app_password == ""  # nothing else supplies one
