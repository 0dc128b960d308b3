"""The workspace tab through its real HTTP endpoints, signed in by Teams SSO tokens that Entra's
keys (published on loopback) sign: what each role finds waiting, the register, a record, an
incident's page and its actions, the keepers' tools, and every refusal.

The council talks to the bot in chat through one app (no app id, as the other tests do) and opens
the tab on a second app on the same register configured with an app id, as a council runs it.
"""

import csv
import io
import json
import zipfile
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from docx import Document

from dialogs import workspace_links
from storage.models import AuditEvent, Letter
from tests.support.dialog import latest_card, texts, walk
from tests.support.entra import EntraKeys
from tests.support.harness import BotHarness
from tests.support.reporting import report
from tests.support.teams import AMY, CATH, CERI, CHIEF, KIM, SAM, Person

HAL = Person.called("Hal Manager", "hal.manager@council.example")
WES = Person.called("Wes Waste", "wes.manager@council.example")
ROLES = """
[service_areas.housing]
name = "Housing"
managers = ["amy.manager@council.example", "hal.manager@council.example"]

[service_areas.waste]
name = "Waste and Recycling"
managers = ["wes.manager@council.example"]

[roles]
complaints_review_group = ["ceri.panel@council.example"]
chief_executive = ["chief.exec@council.example"]
complaints_team = ["cath.complaints@council.example"]
register_keepers = ["kim.keeper@council.example"]
"""
EVERYONE = (AMY, HAL, WES, KIM, SAM, CERI, CHIEF, CATH)


@pytest.fixture(scope="module")
def entra() -> Iterator[EntraKeys]:
    keys = EntraKeys()
    keys.start()
    yield keys
    keys.stop()


class Tab:
    """The tab's server, asked as the page asks it."""

    def __init__(self, harness: BotHarness, entra: EntraKeys) -> None:
        self.harness = harness
        self.entra = entra

    def url(self, path: str) -> str:
        assert self.harness._server is not None
        return str(self.harness._server.make_url(path))

    async def get(
        self, path: str, person: Person | None = None, *, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {}
        if person is not None or token is not None:
            headers["Authorization"] = "Bearer " + (token or self.entra.token(person))  # type: ignore[arg-type]
        async with aiohttp.ClientSession() as http, http.get(self.url(path), headers=headers) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, (await response.read(), response.headers)

    async def page(self, path: str, person: Person) -> str:
        status, body = await self.get("/tab/api" + path, person)
        assert status == 200, body
        return body["html"]

    async def act(self, person: Person, name: str, value: dict[str, Any]) -> tuple[int, Any]:
        headers = {"Authorization": "Bearer " + self.entra.token(person)}
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                self.url("/tab/api/action"), json={"name": name, "value": value}, headers=headers
            ) as response,
        ):
            return response.status, await response.json()


@pytest.fixture
async def tab(database_url, connector, clock, entra, harness) -> AsyncIterator[Tab]:
    # The chat side (`harness`) migrated the register first; the tab's app shares it.
    server = BotHarness(database_url, connector, clock, **entra.settings())
    await server.start()
    yield Tab(server, entra)
    await server.stop()


@pytest.fixture
async def council(harness, tab):
    await harness.import_roles(ROLES)
    for person in EVERYONE:
        await harness.say(person, "hi")
    harness.connector.clear()
    return harness


async def _reported(council, reporter=SAM, **what) -> str:
    reference = await report(council, reporter, **what)
    await council.deliver()
    return reference


async def _incident_id(council, reference: str) -> int:
    from storage.models import Incident

    (incident,) = await council.rows(Incident, Incident.reference == reference)
    return incident.id


async def _views(council, action: str) -> list[AuditEvent]:
    return await council.rows(AuditEvent, AuditEvent.action == action)


# --- signing in ----------------------------------------------------------------------------------


async def test_no_token_or_a_bad_token_is_401_and_shows_nothing(council, tab, entra):
    await _reported(council)
    stranger = entra.token(AMY, key=entra.stranger)
    expired = entra.token(AMY, lifetime=-600)
    cases = {
        "no token": None,
        "garbage": "not-a-token",
        "signed by another key": stranger,
        "expired": expired,
        "another tenant": entra.token(AMY, tid="11111111-0000-4000-8000-000000000000"),
        "another app": entra.token(AMY, aud="00000000-0000-4000-8000-0000000000ff"),
        "v1 with the client id as audience": entra.token(AMY, version="1.0", aud=entra.settings()["app_id"]),
        "an app's own token, no scope": entra.token(AMY, scp=None),
        "another issuer": entra.token(AMY, iss="https://login.microsoftonline.com/common/v2.0"),
        "unknown key id": entra.token(AMY, kid="rolled-over"),
    }
    for why, token in cases.items():
        status, body = (
            await tab.get("/tab/api/home", token=token) if token else await tab.get("/tab/api/home")
        )
        assert status == 401, why
        assert "html" not in body, why
        assert "Pat Jones" not in str(body)


async def test_v1_and_v2_tokens_sign_the_person_in_by_tenant_and_object_id(council, tab, entra):
    for version in ("2.0", "1.0"):
        status, body = await tab.get("/tab/api/home", token=entra.token(AMY, version=version))
        assert status == 200, (version, body)
        assert "Signed in as Amy Manager: Manager, Housing." in body["html"]
    # The token's name is not trusted for who they are: the object id is.
    status, body = await tab.get("/tab/api/home", token=entra.token(SAM, name="Kim Keeper"))
    assert "Register keeper" not in body["html"]


async def test_someone_the_register_has_not_met_is_asked_to_open_the_chat(council, tab):
    stranger = Person.called("Nia New", "nia.new@council.example")
    html = await tab.page("/home", stranger)
    assert "does not know you yet" in html
    assert "Awaiting" not in html


async def test_without_an_app_id_people_sign_in_by_choosing_only_on_this_machine(council):
    async with aiohttp.ClientSession() as http:
        base = council._server.make_url
        async with http.get(base("/tab/api/sign-in")) as response:
            options = await response.json()
        assert options["mode"] == "local"
        names = {p["name"]: p for p in options["people"]}
        amy = names["Amy Manager"]
        assert amy["roles"] == "Manager, Housing"
        async with http.get(
            base("/tab/api/home"), headers={"Authorization": f"Local {amy['id']}"}
        ) as response:
            assert response.status == 200
            assert "Awaiting my decision" in (await response.json())["html"]


async def test_with_an_app_id_nobody_signs_in_by_choosing(council, tab):
    async with aiohttp.ClientSession() as http:
        async with http.get(tab.url("/tab/api/sign-in")) as response:
            assert (await response.json()) == {"mode": "teams", "appId": tab.entra.settings()["app_id"]}
        async with http.get(tab.url("/tab/api/home"), headers={"Authorization": "Local 1"}) as response:
            assert response.status == 401


# --- each role's home ----------------------------------------------------------------------------


async def test_each_role_sees_what_is_waiting_for_them(council, tab, clock):
    first = await _reported(council)
    await _reported(council, service_area="waste")
    staff = await tab.page("/home", SAM)
    assert "My incidents (2)" in staff and first in staff
    assert "Waiting for a manager&#x27;s decision" in staff
    assert "Awaiting my decision" not in staff and "Register" not in staff.split("</nav>")[0]
    assert "Pat Jones" not in staff  # a queue names no customer

    manager = await tab.page("/home", AMY)
    assert "Awaiting my decision (1)" in manager and first in manager
    assert "Letters to send or record (0)" in manager
    waste = await tab.page("/home", WES)
    assert "Awaiting my decision (1)" in waste and first not in waste

    keeper = await tab.page("/home", KIM)
    for queue in (
        "Undecided incidents (2)",
        "No-review restrictions (0)",
        "Undelivered notifications (0)",
        "Appeals overdue (0)",
        "Reviews overdue (0)",
    ):
        assert queue in keeper, queue
    assert "Restrictions in force, by service" in keeper and "No restriction is in force." in keeper
    panel = await tab.page("/home", CERI)
    assert "Open appeals and complaints (0)" in panel and "Awaiting" not in panel


async def test_a_queue_page_lists_what_the_home_page_counts_and_refuses_others(council, tab):
    reference = await _reported(council)
    html = await tab.page("/queue/decide", AMY)
    assert reference in html and "Awaiting my decision (1)" in html
    status, body = await tab.get("/tab/api/queue/undecided", AMY)
    assert status == 403 and reference not in body["html"]


# --- the register --------------------------------------------------------------------------------


async def test_keepers_search_the_register_and_every_customer_shown_is_a_view(council, tab):
    reference = await _reported(council)
    await _reported(
        council, customer={"new_name": "Robin Hart", "new_postcode": "EH1 1AA"}, service_area="waste"
    )
    html = await tab.page("/register?q=pat", KIM)
    assert "Pat Jones" in html and reference in html and "Robin Hart" not in html
    assert "1 incident in the whole register" in html
    by_postcode = await tab.page("/register?q=EH1%201AA", KIM)
    assert "Robin Hart" in by_postcode and "Pat Jones" not in by_postcode
    by_reference = await tab.page(f"/register?q={reference}", KIM)
    assert "Pat Jones" in by_reference
    filtered = await tab.page("/register?service=waste", KIM)
    assert "Robin Hart" in filtered and "Pat Jones" not in filtered
    nothing = await tab.page("/register?category=four", KIM)
    assert "Nothing in the register matches." in nothing
    searched = await _views(council, "customer.searched")
    assert len(searched) == 4 + 1  # one per customer shown; the empty search one with nobody


async def test_a_manager_searches_their_own_services_part_only_and_staff_are_refused(council, tab):
    await _reported(council)
    await _reported(
        council, customer={"new_name": "Robin Hart", "new_postcode": "EH1 1AA"}, service_area="waste"
    )
    html = await tab.page("/register", AMY)
    assert "Pat Jones" in html and "Robin Hart" not in html
    assert "your service&#x27;s part of the register" in html
    status, body = await tab.get("/tab/api/register?q=pat", SAM)
    assert status == 403 and "Pat Jones" not in body["html"]
    (refusal,) = await _views(council, "access.refused")
    assert refusal.detail == {"attempted": "register.search"}


# --- a customer's record and an incident's page --------------------------------------------------


async def test_a_customers_record_is_a_timeline_and_an_audited_view(council, tab):
    reference = await _reported(council)
    incident_id = await _incident_id(council, reference)
    html = await tab.page(f"/incident/{incident_id}", KIM)
    customer_link = html.split('href="#/customer/')[1].split('"')[0]
    record = await tab.page(f"/customer/{customer_link}", KIM)
    assert "Pat Jones: customer record" in record
    assert "TD6 0SA" in record and reference in record and "Timeline" in record
    viewed = await _views(council, "customer.record_viewed")
    assert [(v.actor_id is not None, v.record_id) for v in viewed] == [(True, customer_link)]
    status, body = await tab.get(f"/tab/api/customer/{customer_link}", WES)
    assert status == 403 and "Pat Jones" not in body["html"]
    assert len(await _views(council, "access.refused")) == 1


async def test_the_reporter_sees_where_their_report_stands_but_not_the_customer(council, tab):
    reference = await _reported(council)
    incident_id = await _incident_id(council, reference)
    html = await tab.page(f"/incident/{incident_id}", SAM)
    assert f"{reference}: your report" in html and "Pat Jones" not in html
    status, body = await tab.get(f"/tab/api/incident/{incident_id}", WES)
    assert status == 403 and "Pat Jones" not in body["html"]


async def test_a_decision_from_the_page_is_the_chats_and_shows_in_chat(council, tab):
    reference = await _reported(council)
    incident_id = await _incident_id(council, reference)
    html = await tab.page(f"/incident/{incident_id}", AMY)
    assert 'data-verb="incident.refresh"' in html and "Pat Jones" in html
    assert len(await _views(council, "incident.viewed")) == 1
    # The page fetches the managers' card as chat does, and its buttons send the same invokes.
    status, answer = await tab.act(
        AMY,
        "adaptiveCard/action",
        {"action": {"type": "Action.Execute", "verb": "incident.refresh", "data": {"incident": incident_id}}},
    )
    assert status == 200 and answer["body"]["type"] == "application/vnd.microsoft.card.adaptive"
    card = answer["body"]["value"]
    from tests.support.dialog import dialog_button, inputs, values

    opened = dialog_button(card, "No further action")
    status, answer = await tab.act(
        AMY, "task/fetch", {"data": {k: v for k, v in opened.items() if k != "msteams"}}
    )
    form = answer["body"]["task"]["value"]["card"]["content"]
    assert "reasons" in inputs(form)
    submit = next(a for a in form["actions"] if a.get("title") == "Record decision")["data"]
    data = {**values(form), "reasons": "Dealt with on the call; nothing more is needed.", **submit}
    status, answer = await tab.act(AMY, "task/submit", {"data": data})
    assert answer["body"]["task"]["type"] == "message"
    assert f"Incident {reference} is recorded as decided" in answer["body"]["task"]["value"]
    # In chat: Amy's card shows the decision, and Sam is told.
    card = await latest_card(council, AMY)
    assert "No further action" in texts(card) and "Record decision" not in texts(card)
    told = [s for s in council.connector.to(SAM.chat_id) if s.cards]
    assert any(f"Decision on {reference}" in texts(s.card) for s in told)
    after = await tab.page(f"/incident/{incident_id}", AMY)
    assert "Dealt with on the call" in after
    mine = await tab.page("/home", SAM)
    assert "Decided" in mine


async def test_actions_from_the_page_are_refused_as_in_chat(council, tab):
    reference = await _reported(council)
    incident_id = await _incident_id(council, reference)
    for person in (SAM, WES):
        status, answer = await tab.act(
            person,
            "adaptiveCard/action",
            {
                "action": {
                    "type": "Action.Execute",
                    "verb": "incident.refresh",
                    "data": {"incident": incident_id},
                }
            },
        )
        assert status == 200
        assert "Pat Jones" not in str(answer)
        assert "do not have access" in texts(answer["body"]["value"])
    status, answer = await tab.act(
        SAM,
        "task/submit",
        {
            "data": {
                "verb": "decision.submit",
                "incident": incident_id,
                "kind": "no_further_action",
                "reasons": "x",
            }
        },
    )
    assert "decided" not in str(answer).lower() or "not" in str(answer).lower()
    from storage.models import Decision

    assert await council.rows(Decision) == []
    status, answer = await tab.act(SAM, "composeExtension/fetchTask", {"commandId": "reportAsIncident"})
    assert status == 400


async def test_a_letter_downloads_from_the_page_by_the_cards_rule(council, tab):
    reference = await _reported(council)
    from tests.support.dialog import decide

    card = await latest_card(council, AMY)
    await decide(
        council,
        AMY,
        card,
        "Active management",
        reasons="Three calls a day for a month, each over 40 minutes.",
        needs_considered="yes",
        restorative_not_possible_reason="Refused to discuss the behaviour.",
        without_prior_warning_reason="Staff distress is escalating.",
        restriction_1_type="contact_channels",
        restriction_1_details="Email only.",
        restriction_1_scope="service",
        restriction_1_frontline_instructions="Do not take calls; ask them to email.",
    )
    (letter,) = await council.rows(Letter)
    status, (content, headers) = await tab.get(f"/tab/api/letters/{letter.id}.docx", AMY)
    assert status == 200 and reference in headers["Content-Disposition"]
    assert "Pat Jones" in "\n".join(p.text for p in Document(io.BytesIO(content)).paragraphs)
    status, _ = await tab.get(f"/tab/api/letters/{letter.id}.docx", SAM)
    assert status == 403
    home = await tab.page("/home", KIM)
    assert "Letters to send or record (1)" in home
    assert len(await _views(council, "letter.downloaded")) == 1


# --- the keepers' tools --------------------------------------------------------------------------


async def test_the_keepers_tools_work_and_are_audited_and_refused_to_others(council, tab, clock):
    reference = await _reported(council)
    year = clock().year
    annual = await tab.page(f"/tools/annual?year={year}", KIM)
    assert f"Annual report {year}" in annual and "&lt;5" in annual
    for fmt in ("docx", "pdf", "csv"):
        status, (content, headers) = await tab.get(f"/tab/api/reports/annual-{year}.{fmt}", KIM)
        assert status == 200, fmt
        assert f"annual-report-{year}.{fmt}" in headers["Content-Disposition"]
    assert content.startswith(b"Table,Row,Value")
    rows = list(csv.reader(io.StringIO(content.decode())))
    assert ["Summary", "Incidents", "<5"] in rows
    incident_id = await _incident_id(council, reference)
    record = await tab.page(f"/incident/{incident_id}", KIM)
    customer_id = record.split('href="#/customer/')[1].split('"')[0]
    status, (pack, _) = await tab.get(f"/tab/api/subject-access/{customer_id}.zip", KIM)
    assert status == 200
    names = zipfile.ZipFile(io.BytesIO(pack)).namelist()
    # The machine-readable record, and the readable pack in Word and PDF.
    assert names == [f"customer-{customer_id}.{kind}" for kind in ("json", "docx", "pdf")]
    retention = await tab.page("/tools/retention", KIM)
    assert "A dry run: nothing is changed. 0 customer(s)" in retention
    roles = await tab.page("/tools/roles", KIM)
    assert "Amy Manager" in roles and "Complaints Review Group member" in roles
    access = await tab.page("/tools/access", KIM)
    assert "Kim Keeper" in access
    for action in (
        "report.annual",
        "customer.exported",
        "retention.dry_run",
        "roles.viewed",
        "report.access",
    ):
        assert await _views(council, action), action
    for path in (
        "/tools/annual",
        "/tools/retention",
        "/tools/roles",
        "/tools/access",
        "/tools/subject-access",
    ):
        status, body = await tab.get("/tab/api" + path, AMY)
        assert status == 403 and "Only the register keepers" in body["html"], path
    status, _ = await tab.get(f"/tab/api/subject-access/{customer_id}.zip", AMY)
    assert status == 403
    status, _ = await tab.get(f"/tab/api/reports/annual-{year}.pdf", AMY)
    assert status == 403


# --- the page itself -----------------------------------------------------------------------------


async def test_the_page_and_teamsjs_come_from_the_bot_with_teams_as_the_only_frame(tab):
    status, (html, headers) = await tab.get("/tab")
    assert status == 200
    assert b"/tab/static/vendor/MicrosoftTeams.min.js" in html and b"https://" not in html.replace(
        b"https://teams.microsoft.com/l/chat/0/0", b""
    )
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'self' teams.microsoft.com" in policy
    status, (_, headers) = await tab.get("/tab/static/vendor/MicrosoftTeams.min.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    status, _ = await tab.get("/tab/static/../bot/app.py")
    assert status == 404


def test_the_served_libraries_are_the_npm_packages_own():
    from pathlib import Path

    root = Path(__file__).parents[1]
    node = root / "node_modules"
    if not node.exists():
        pytest.skip("node_modules is not installed (npm ci)")
    pairs = {
        "MicrosoftTeams.min.js": node / "@microsoft/teams-js/dist/umd/MicrosoftTeams.min.js",
        "adaptivecards.min.js": node / "adaptivecards/dist/adaptivecards.min.js",
    }
    for name, source in pairs.items():
        assert (root / "workspace/static/vendor" / name).read_bytes() == source.read_bytes(), name


# --- deep links both ways --------------------------------------------------------------------------


async def test_the_managers_card_links_to_the_incidents_page(council):
    reference = await _reported(council)
    incident_id = await _incident_id(council, reference)
    card = await latest_card(council, AMY)
    links = [(a["title"], a["url"]) for a in walk(card) if a.get("type") == "Action.OpenUrl"]
    # Without an app id (this chat app), the page's own address on this machine.
    assert links == [("Open in the register", f"{council.settings.base_url}/tab#/incident/{incident_id}")]
    (notice,) = [s for s in council.connector.to(SAM.chat_id) if s.cards] or [None]
    assert notice is None or "Open in the register" not in texts(notice.card)  # not on the reporter's


def test_in_teams_the_link_is_a_deep_link_to_the_tab_naming_the_page():
    from urllib.parse import parse_qs, urlsplit

    app_id = "00000000-0000-4000-8000-00000000a991"
    url = workspace_links.deep_link(app_id, "incident/5")
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("teams.microsoft.com", f"/l/entity/{app_id}/workspace")
    assert json.loads(parse_qs(parts.query)["context"][0]) == {"subEntityId": "incident/5"}
    assert workspace_links.chat_link(app_id) == f"https://teams.microsoft.com/l/chat/0/0?users=28:{app_id}"


# --- reviews and appeals, through time -------------------------------------------------------------

ACTIVE = {
    "reasons": "Three calls a day for a month, each over 40 minutes, after clear answers were given.",
    "needs_considered": "yes",
    "needs_considered_note": "No support needs known; offered email instead of phone.",
    "restorative_not_possible_reason": "Refused to discuss the behaviour when asked on 3 calls.",
    "without_prior_warning_reason": "Staff distress is escalating; a warning letter was ignored.",
    "restriction_1_type": "contact_channels",
    "restriction_1_details": "Email to housing.contact@council.example only.",
    "restriction_1_scope": "service",
    "restriction_1_frontline_instructions": "Do not take calls; ask them to email.",
    "restriction_1_review_due_on": "2026-12-01",
}


async def test_reviews_and_appeals_wait_with_their_deadlines_and_fall_overdue(council, tab, clock):
    from tests.support.dialog import appeal_choice, closing_text, decide, open_from

    reference = await _reported(council)
    incident_id = await _incident_id(council, reference)
    await decide(council, AMY, await latest_card(council, AMY), "Active management", **ACTIVE)
    (reply,) = await council.say(CATH, f"appeal {reference}")
    form = await open_from(council, CATH, reply.card, "Log an appeal")
    await form.press(
        "Log appeal",
        against=appeal_choice(form.card, "decision"),
        grounds="Nobody answered my repairs complaint.",
    )
    assert "Logged. The appeal goes to the Complaints Review Group" in closing_text(form)

    amy = await tab.page("/home", AMY)
    assert "My reviews due or overdue (1)" in amy and "Tue 1 Dec 2026" in amy and ">Due<" in amy
    ceri = await tab.page("/home", CERI)
    assert "Open appeals and complaints (1)" in ceri
    # Logged Mon 23 Nov: 20 working days on, St Andrew's Day (Mon 30 Nov) not one, is Tue 22 Dec.
    assert "Tue 22 Dec 2026" in ceri and "29 days left" in ceri
    assert "Open appeals and complaints (0)" in await tab.page("/home", CATH)  # not their route
    page = await tab.page(f"/incident/{incident_id}", CERI)
    assert 'data-verb="appeal.refresh"' in page and 'data-verb="incident.refresh"' not in page
    keeper = await tab.page("/home", KIM)
    assert "Appeals overdue (0)" in keeper and "Reviews overdue (0)" in keeper

    clock.advance(days=30)
    keeper = await tab.page("/home", KIM)
    assert "Appeals overdue (1)" in keeper and "Reviews overdue (1)" in keeper
    assert "Overdue by 22 days" in await tab.page("/home", AMY)
    assert "Overdue by 1 day<" in await tab.page("/queue/appeals", CERI)


async def test_bad_input_gets_a_clear_4xx_or_is_ignored_never_a_500(council, tab):
    await _reported(council)
    for path in (
        "/tab/api/register?since=yesterday&until=2026-13-45&page=minus&state=%00&q=" + "x" * 500,
        "/tab/api/register?q=%25%5F%5C&category=nine",
        "/tab/api/tools/annual?year=99999",
        "/tab/api/tools/access?month=never",
        "/tab/api/tools/subject-access?customer=-1",
    ):
        status, body = await tab.get(path, KIM)
        assert status == 200, (path, body)
    for path, expected in (
        ("/tab/api/customer/abc", 404),
        ("/tab/api/incident/99999999", 403),
        ("/tab/api/customer/99999999", 403),
        ("/tab/api/queue/" + "q" * 300, 404),
        ("/tab/api/tools/shell", 404),
        ("/tab/api/letters/99999.docx", 403),
        ("/tab/api/subject-access/99999.zip", 404),
    ):
        status, _ = await tab.get(path, KIM)
        assert status == expected, path
    headers = {"Authorization": "Bearer " + tab.entra.token(KIM)}
    async with aiohttp.ClientSession() as http:
        for body, content_type, expected in (
            (b"not json", "application/json", 400),
            (b'{"name": "adaptiveCard/action", "value": []}', "application/json", 400),
            (b'{"name": "task/fetch"}', "text/plain", 415),
            (b"[" * 100_000, "application/json", 413),
        ):
            async with http.post(
                tab.url("/tab/api/action"), data=body, headers={**headers, "Content-Type": content_type}
            ) as response:
                assert response.status == expected, body[:40]


async def test_the_appeal_and_review_cards_link_to_the_incidents_page(council):
    from datetime import UTC, datetime

    from bot.app import SERVICES
    from dialogs import reviews
    from tests.support.dialog import appeal_choice, decide, open_from

    reference = await _reported(council)
    incident_id = await _incident_id(council, reference)
    page = f"{council.settings.base_url}/tab#/incident/{incident_id}"
    await decide(council, AMY, await latest_card(council, AMY), "Active management", **ACTIVE)
    (reply,) = await council.say(CATH, f"appeal {reference}")
    form = await open_from(council, CATH, reply.card, "Log an appeal")
    await form.press("Log appeal", against=appeal_choice(form.card, "decision"), grounds="Unfair.")
    await council.deliver()
    council.clock.now = datetime(2026, 11, 24, 10, tzinfo=UTC)  # 7 days before the review is due
    await reviews.sweep_reviews(council.app[SERVICES])
    await council.deliver()
    appeal_card = next(s.card for s in council.connector.to(CERI.chat_id) if s.cards)
    review_card = next(
        s.card
        for s in council.connector.to(AMY.chat_id)
        if s.activity.get("summary", "").startswith("A review")
    )
    for card in (appeal_card, review_card):
        links = [(a["title"], a["url"]) for a in walk(card) if a.get("type") == "Action.OpenUrl"]
        assert links == [("Open in the register", page)]
