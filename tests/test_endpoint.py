"""The bot through its real HTTP endpoint: welcome, help, identity, and bad input."""

from sqlalchemy import func, select

from storage.models import ConversationRef, Person
from tests.support import teams
from tests.support.teams import AMY, KIM, SAM


def _texts(card: dict) -> str:
    """Every string a person can read on a card, flattened."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "title", "value", "label") and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(found)


async def test_first_message_gets_a_welcome_naming_the_persons_roles(harness):
    await harness.import_roles()
    replies = await harness.say(AMY, "hello")
    assert len(replies) == 1
    card = replies[0].card
    assert card["version"] == "1.5"
    shown = _texts(card)
    assert "Hello Amy" in shown
    assert "Manager of Housing" in shown
    assert "Managing Customer Engagement policy" in shown
    # Delivered as a reply into Amy's own 1:1 chat.
    assert replies[0].conversation_id == AMY.chat_id


async def test_welcome_comes_once_then_commands_are_answered(harness):
    first = await harness.say(SAM, "help")
    assert [("Hello Sam" in _texts(r.card)) for r in first] == [True, False]
    second = await harness.say(SAM, "help")
    assert len(second) == 1
    assert "Help" in _texts(second[0].card)
    assert "Staff" in _texts(second[0].card)


async def test_install_saves_the_conversation_and_welcomes_once(harness):
    harness.meet(KIM)
    await harness.import_roles()
    status, _ = await harness.post(teams.installed(KIM, harness.connector.url))
    assert status == 201
    status, _ = await harness.post(teams.installation_update(KIM, harness.connector.url))
    assert status == 201
    welcomes = harness.connector.to(KIM.chat_id)
    assert len(welcomes) == 1
    assert "Register keeper" in _texts(welcomes[0].card)
    refs = await harness.rows(ConversationRef)
    assert [(r.kind, r.conversation_id, r.service_url) for r in refs] == [
        ("personal", KIM.chat_id, harness.connector.url)
    ]


async def test_sender_is_matched_to_the_roles_file_by_email_from_the_roster(harness):
    await harness.import_roles()
    await harness.say(AMY, "hi")
    (amy,) = await harness.rows(Person, Person.email == AMY.email)
    assert amy.teams_user_id == AMY.teams_id
    assert amy.aad_object_id == AMY.aad_object_id
    async with harness.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 6


async def test_someone_who_talked_first_gets_their_roles_once_the_file_names_them(harness):
    harness.connector.roster.clear()
    # The roster is unreachable the first time: the bot still answers, as plain staff.
    status, _ = await harness.post(teams.message(AMY, harness.connector.url, "hi"))
    assert status == 201
    await harness.import_roles()
    replies = await harness.say(AMY, "help")
    assert "Manager of Housing" in _texts(replies[0].card)


async def test_unknown_command_says_how_to_get_help(harness):
    await harness.say(SAM, "hi")
    (reply,) = await harness.say(SAM, "make me a sandwich")
    assert "Help" in _texts(reply.card)
    (action,) = reply.card["actions"]
    assert action["data"]["msteams"] == {"type": "imBack", "value": "help"}


async def test_channel_mention_is_stripped_before_the_command_is_read(harness):
    harness.meet(SAM)
    activity = teams.channel_message(
        SAM,
        harness.connector.url,
        "help",
        team_id="19:team@thread.tacv2",
        channel_id="19:crg@thread.tacv2",
    )
    status, _ = await harness.post(activity)
    assert status == 201
    (reply,) = harness.connector.sent
    assert "Help" in _texts(reply.card)
    refs = await harness.rows(ConversationRef, ConversationRef.kind == "channel")
    assert refs[0].conversation_id == "19:crg@thread.tacv2"
    assert refs[0].team_id == "19:team@thread.tacv2"


async def test_healthz_checks_the_database(harness):
    status, body = await harness.get("/healthz")
    assert (status, body) == (200, {"status": "ok", "database": "ok"})


async def test_another_tenants_activity_is_ignored(database_url, connector, clock):
    from tests.support.harness import BotHarness

    bot = BotHarness(database_url, connector, clock, tenant_id=teams.TENANT_ID)
    await bot.start()
    try:
        stranger = teams.message(SAM, connector.url, "help")
        stranger["channelData"]["tenant"]["id"] = "00000000-0000-4000-8000-00000000beef"
        stranger["conversation"]["tenantId"] = "00000000-0000-4000-8000-00000000beef"
        status, _ = await bot.post(stranger)
        assert status == 201
        assert connector.sent == []
        assert await bot.rows(Person) == []
    finally:
        await bot.stop()


# --- bad input ----------------------------------------------------------------------------------


async def test_body_that_is_not_json_gets_400_and_the_bot_keeps_serving(harness):
    status, body = await harness.post(None, raw=b"{not json")
    assert status == 400
    assert body == {"error": "the body is not JSON"}
    assert len(await harness.say(SAM, "hi")) == 1


async def test_wrong_content_type_gets_415(harness):
    status, _ = await harness.post(None, raw=b"hello", headers={"Content-Type": "text/plain"})
    assert status == 415


async def test_oversized_body_gets_413(harness):
    activity = teams.message(SAM, harness.connector.url, "x" * (600 * 1024))
    status, _ = await harness.post(activity)
    assert status == 413
    assert harness.connector.sent == []


async def test_unknown_activity_type_gets_400(harness):
    activity = teams.message(SAM, harness.connector.url, "hi")
    activity["type"] = "teleport"
    status, body = await harness.post(activity)
    assert status == 400
    assert "unknown activity type" in body["error"]


async def test_activities_missing_what_the_bot_needs_get_400(harness):
    base = teams.message(SAM, harness.connector.url, "hi")
    broken = [
        [1, 2, 3],
        {**base, "type": None},
        {**base, "serviceUrl": "file:///etc/passwd"},
        {**base, "conversation": {}},
        {**base, "from": "Sam"},
        {**base, "recipient": None},
        {k: v for k, v in base.items() if k != "channelId"},
        {**base, "channelData": ["not", "an", "object"]},
    ]
    for activity in broken:
        status, _ = await harness.post(activity)
        assert status == 400, activity
    assert harness.connector.sent == []


async def test_a_crash_inside_a_turn_is_apologised_for_not_a_500(harness, monkeypatch):
    from dialogs import commands

    async def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    await harness.say(SAM, "hi")
    monkeypatch.setattr(commands, "dispatch", broken)
    replies = await harness.say(SAM, "help")
    assert "something went wrong" in replies[0].text


async def test_install_events_arriving_together_create_one_person_and_one_welcome(harness, caplog):
    import asyncio

    harness.meet(SAM)
    statuses = await asyncio.gather(
        harness.post(teams.installed(SAM, harness.connector.url)),
        harness.post(teams.installation_update(SAM, harness.connector.url)),
        harness.post(teams.message(SAM, harness.connector.url, "help")),
    )
    assert [s for s, _ in statuses] == [201, 201, 201]
    assert len(await harness.rows(Person)) == 1
    assert len(await harness.rows(ConversationRef)) == 1
    welcomes = [s for s in harness.connector.to(SAM.chat_id) if "Hello Sam" in _texts(s.card)]
    assert len(welcomes) == 1
    # A turn that failed still answers 201: the log is where a lost race would show.
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


async def test_a_very_long_teams_name_is_kept_to_what_the_register_holds(harness):
    activity = teams.message(SAM, harness.connector.url, "hi")
    activity["from"]["name"] = "Sam " + "x" * 500
    status, _ = await harness.post(activity)
    assert status == 201
    (person,) = await harness.rows(Person)
    assert len(person.display_name) == 200


async def test_a_blank_name_is_greeted_without_one(harness):
    activity = teams.message(SAM, harness.connector.url, "hi")
    activity["from"]["name"] = "   "
    status, _ = await harness.post(activity)
    assert status == 201
    (welcome,) = harness.connector.sent
    assert "Hello" in _texts(welcome.card)


async def test_overlong_ids_are_refused_with_400(harness):
    activity = teams.message(SAM, harness.connector.url, "hi")
    activity["from"]["id"] = "29:" + "x" * 300
    status, body = await harness.post(activity)
    assert (status, body) == (400, {"error": "the activity's from.id is too long"})
