"""People who never opened the bot: reached from the rosters of its teams, or through Graph.

Through the real endpoint, against a Bot Connector that refuses (403) what Teams refuses: a
message to, or a new chat with, someone the app is not installed for who shares no team with it.
"""

import pytest

from bot.config import ConfigError, load_settings
from storage import outbox
from storage.models import AuditEvent, ConversationRef, OutboxMessage
from tests.support import teams
from tests.support.connector import RecordingConnector
from tests.support.graph import GraphStandIn, StaticTokens
from tests.support.harness import BotHarness
from tests.support.reporting import report
from tests.support.teams import AMY, KIM, SAM

TEAM = "19:housing-team-general@thread.tacv2"


def _waiting(rows: list[OutboxMessage], person_id: int) -> list[OutboxMessage]:
    return [m for m in rows if m.person_id == person_id and m.status == outbox.PENDING]


async def _person_id(harness: BotHarness, email: str) -> int:
    from storage import people

    async with harness.sessions() as session:
        person = await people.find_by_email(session, email)
        assert person is not None
        return person.id


async def test_a_manager_who_never_opened_the_bot_is_reached_through_a_team_they_share(harness):
    await harness.import_roles()
    await harness.say(KIM, "hi")
    harness.meet(AMY)  # in the tenant, but she never opened the bot
    reference = await report(harness, SAM)
    await harness.deliver()
    amy = await _person_id(harness, AMY.email)
    (held,) = _waiting(await harness.rows(OutboxMessage), amy)
    assert held.last_error == outbox.NO_CONVERSATION
    assert harness.connector.to(AMY.chat_id) == []

    # Nothing to reach her through yet: Teams would refuse the chat, and the bot does not try.
    assert await harness.reach() == 0
    assert harness.connector.started == []

    # The app is added to the Housing team, of which Amy is a member.
    harness.connector.teams[TEAM] = [KIM.teams_id, AMY.teams_id]
    status, _ = await harness.post(teams.added_to_team(KIM, harness.connector.url, team_id=TEAM))
    assert status in (200, 201)
    assert await harness.reach() == 1
    assert harness.connector.started == [AMY.teams_id]
    await harness.deliver()
    (card,) = harness.connector.to(AMY.chat_id)
    assert reference in card.activity["summary"]
    assert _waiting(await harness.rows(OutboxMessage), amy) == []
    (saved,) = await harness.rows(ConversationRef, ConversationRef.person_id == amy)
    assert (saved.kind, saved.user_id) == ("personal", AMY.teams_id)
    assert await harness.reach() == 0  # reached already: nothing more to do


async def test_the_connector_refuses_a_person_the_app_is_not_installed_for(harness):
    await harness.import_roles()
    await harness.say(AMY, "hi")
    harness.connector.uninstall(AMY.teams_id)  # she removed the app
    await report(harness, SAM)
    harness.connector.clear()
    await harness.deliver()
    assert harness.connector.to(AMY.chat_id) == []
    amy = await _person_id(harness, AMY.email)
    failed = [m for m in await harness.rows(OutboxMessage) if m.person_id == amy]
    assert failed and all(m.status == outbox.FAILED and m.last_error == "HTTP 403" for m in failed)


@pytest.fixture
async def graph(connector: RecordingConnector):
    stand_in = GraphStandIn(connector)
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


@pytest.fixture
async def graph_harness(database_url, connector, clock, graph):
    bot = BotHarness(
        database_url,
        connector,
        clock,
        graph_tokens=StaticTokens(),
        graph_install=True,
        teams_app_catalog_id=graph.catalog_id,
        graph_url=graph.url,
    )
    await bot.start()
    yield bot
    await bot.stop()


async def test_with_graph_install_the_app_is_installed_for_someone_sharing_no_team(graph_harness, graph):
    harness = graph_harness
    await harness.import_roles()
    await harness.say(KIM, "hi")
    harness.meet(AMY)
    reference = await report(harness, SAM)
    await harness.deliver()
    assert await harness.reach() == 1
    assert graph.installations.keys() == {AMY.teams_id}
    # Others with roles are not in this tenant's directory: Graph knows them not, and they wait.
    assert [m for m, path in graph.requests if AMY.email in path] == ["POST", "GET", "GET"]
    await harness.deliver()
    (card,) = harness.connector.to(AMY.chat_id)
    assert reference in card.activity["summary"]

    # Installed already (a setup policy got there first): Graph answers 409 and the chat is found.
    async with harness.sessions() as session:
        for ref in await harness.rows(ConversationRef, ConversationRef.user_id.is_(None)):
            await session.delete(await session.get(ConversationRef, ref.id))
        await session.commit()
    graph.requests.clear()
    assert await harness.reach() == 1
    assert [m for m, path in graph.requests if AMY.email in path] == ["POST", "GET", "GET"]


def test_graph_install_needs_the_apps_catalog_id():
    with pytest.raises(ConfigError, match="TEAMS_APP_CATALOG_ID"):
        load_settings({"GRAPH_INSTALL": "on"})
    with pytest.raises(ConfigError, match="GRAPH_INSTALL"):
        load_settings({"GRAPH_INSTALL": "yes"})
    settings = load_settings({"GRAPH_INSTALL": "on", "TEAMS_APP_CATALOG_ID": "abc"})
    assert settings.graph_install and settings.graph_url == "https://graph.microsoft.com/v1.0"


async def _confirmation_text(harness: BotHarness) -> str:
    (confirmation,) = [s for s in harness.connector.to(SAM.chat_id) if "Reported:" in str(s.activity)]
    return str(confirmation.card)


async def test_the_reporter_is_told_the_managers_were_told_only_when_they_can_be_reached(harness):
    from tests.support.dialog import Dialog
    from tests.support.reporting import to_check

    await harness.import_roles()
    await harness.say(KIM, "hi")
    harness.meet(AMY)
    dialog = Dialog(harness, SAM)
    await to_check(dialog, {"new_name": "Pat Jones", "new_postcode": "TD6 0SA", "new_address": "1 High St"})
    await dialog.press("Send")
    assert "The managers of Housing will be told as soon as they can be reached" in dialog.closing_message
    assert "the register keepers have been told" in dialog.closing_message
    assert "Amy" not in dialog.closing_message and "Kim" not in dialog.closing_message
    await harness.deliver()
    shown = await _confirmation_text(harness)
    assert "will be told as soon as they can be reached; the register keepers have been told." in shown

    # Once Amy has opened the bot, the next reporter hears that the managers were told.
    await harness.say(AMY, "hi")
    harness.connector.clear()
    dialog = Dialog(harness, SAM)
    await to_check(dialog, {"new_name": "Lee Smith", "new_postcode": "TD6 0SB", "new_address": "2 High St"})
    await dialog.press("Send")
    assert dialog.closing_message.split(". ", 1)[1].startswith("The managers of Housing have been told;")
    await harness.deliver()
    assert "The managers of Housing have been told." in await _confirmation_text(harness)


async def test_nobody_reachable_is_said_so(harness):
    from tests.support.dialog import Dialog
    from tests.support.reporting import to_check

    await harness.import_roles()
    dialog = Dialog(harness, SAM)
    await to_check(dialog, {"new_name": "Pat Jones", "new_postcode": "TD6 0SA", "new_address": "1 High St"})
    await dialog.press("Send")
    assert (
        "The managers of Housing will be told as soon as they can be reached; the register keepers "
        "will be told as soon as they can be reached"
    ) in dialog.closing_message


async def test_keepers_ask_who_holds_a_role_but_cannot_be_reached(harness):
    await harness.import_roles()
    await harness.say(AMY, "hi")
    await harness.say(KIM, "hi")
    (listing,) = await harness.say(KIM, "unreachable")
    shown = str(listing.card)
    assert "Chris Chief" not in shown  # never talked: the register knows only the mail it was given
    assert "chief.exec@council.example · Chief Executive" in shown
    assert "dev.panel@council.example · Complaints Review Group member" in shown
    assert "amy.manager" not in shown and "Amy" not in shown and "kim.keeper" not in shown
    (viewed,) = await harness.rows(AuditEvent, AuditEvent.action == "people.unreachable_viewed")
    assert viewed.actor_id == await _person_id(harness, KIM.email)

    await harness.say(SAM, "hi")
    (refused,) = await harness.say(SAM, "unreachable")
    assert "Only some roles may use **unreachable**" in refused.text


async def test_a_large_teams_roster_is_read_page_by_page(harness, monkeypatch):
    from bot import reach

    monkeypatch.setattr(reach, "PAGE_SIZE", 1)  # Teams pages at most 500 members at a time
    await harness.import_roles()
    await harness.say(KIM, "hi")
    harness.meet(AMY, SAM)
    harness.connector.teams[TEAM] = [KIM.teams_id, SAM.teams_id, AMY.teams_id]
    status, _ = await harness.post(teams.added_to_team(KIM, harness.connector.url, team_id=TEAM))
    assert status in (200, 201)
    assert await harness.reach() == 1  # Amy, the manager, on the third page; Sam holds no role
    assert harness.connector.started == [AMY.teams_id]
