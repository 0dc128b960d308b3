"""Connector clients are built once and reused; tokens are fetched off the event loop and kept.

What these check is behaviour (how many clients, which thread, which header), never timing.
"""

import threading

import aiohttp
import pytest
import yarl
from botbuilder.schema import Activity, ErrorResponseException
from botframework.connector.auth import (
    AuthenticationConstants,
    MicrosoftAppCredentials,
    PasswordServiceClientCredentialFactory,
)

from bot.app import ADAPTER
from bot.clients import ClientCache, ReusingConnectorFactory
from bot.connector import AccessTokens, activities_url
from tests.support.teams import AMY, SAM

LOGIN = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
SCOPE = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE


class CountingCredentials(MicrosoftAppCredentials):
    """App credentials that hand out numbered tokens without asking Entra ID."""

    def __init__(self, app_id: str = "app-1", password: str = "secret-1") -> None:
        super().__init__(app_id, password)
        self.fetches = 0
        self.threads: list[str] = []

    def get_access_token(self, force_refresh: bool = False) -> str:
        self.fetches += 1
        self.threads.append(threading.current_thread().name)
        return f"token-{self.fetches}"


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def test_the_adapter_builds_its_clients_once_for_many_turns(harness):
    clients = harness.app[ADAPTER].bot_framework_authentication.clients
    for person in (SAM, AMY):
        for text in ("hi", "help", "help"):
            replies = await harness.say(person, text)
            assert replies, text  # the reused client still delivers every reply
    # One connector client for the service URL, one user-token client: not one per turn.
    assert clients.built == 2


async def test_one_client_per_service_url_and_set_of_credentials(http):
    clients = ClientCache(http)
    emea, amer = "https://smba.example/emea/", "https://smba.example/amer/"
    first = clients.connector(emea, MicrosoftAppCredentials("app-1", "secret-1"))
    # The SDK makes a new credentials object every turn: equal credentials share the client.
    assert clients.connector(emea, MicrosoftAppCredentials("app-1", "secret-1")) is first
    assert clients.connector(amer, MicrosoftAppCredentials("app-1", "secret-1")) is not first
    rotated = clients.connector(emea, MicrosoftAppCredentials("app-1", "secret-2"))
    assert rotated is not first
    assert rotated.config.credentials.microsoft_app_password == "secret-2"
    assert clients.built == 3


async def test_a_rotated_secret_gets_a_new_client_at_the_next_turn(http):
    credentials = PasswordServiceClientCredentialFactory("app-1", "secret-1")
    clients = ClientCache(http)
    factory = ReusingConnectorFactory(clients, credentials, "app-1", oauth_scope=SCOPE, login_endpoint=LOGIN)
    before = await factory.create("https://smba.example/emea/")
    assert await factory.create("https://smba.example/emea/") is before
    credentials.password = "secret-2"
    after = await factory.create("https://smba.example/emea/")
    assert after is not before
    assert after.config.credentials.microsoft_app_password == "secret-2"


async def test_the_cache_is_bounded(http):
    clients = ClientCache(http, size=3)
    credentials = MicrosoftAppCredentials("", "")
    first = clients.connector("https://a.example/", credentials)
    for host in "bcd":
        clients.connector(f"https://{host}.example/", credentials)
    assert clients.connector("https://a.example/", credentials) is not first  # the oldest went


async def test_replies_are_signed_with_a_token_fetched_off_the_event_loop(http, connector):
    credentials = CountingCredentials()
    clients = ClientCache(http)
    client = clients.connector(connector.url, credentials)
    for text in ("one", "two", "three"):
        await client.conversations.send_to_conversation(
            SAM.chat_id, Activity(type="message", text=text, conversation={"id": SAM.chat_id})
        )
    assert [s.text for s in connector.to(SAM.chat_id)] == ["one", "two", "three"]
    assert {s.authorization for s in connector.sent} == {"Bearer token-1"}
    assert credentials.fetches == 1  # kept, not asked of MSAL on every request
    assert credentials.threads != [threading.main_thread().name]


async def test_a_401_makes_the_next_request_fetch_a_new_token(http, connector):
    credentials = CountingCredentials()
    client = ClientCache(http).connector(connector.url, credentials)
    connector.fail(401, times=1)
    activity = Activity(type="message", text="hello", conversation={"id": SAM.chat_id})
    with pytest.raises(ErrorResponseException):
        await client.conversations.send_to_conversation(SAM.chat_id, activity)
    await client.conversations.send_to_conversation(SAM.chat_id, activity)
    assert connector.sent[-1].authorization == "Bearer token-2"


async def test_a_token_is_kept_for_a_few_minutes_then_fetched_again():
    now = [0.0]
    credentials = CountingCredentials()
    tokens = AccessTokens(credentials, clock=lambda: now[0])
    assert await tokens.token() == "token-1"
    now[0] += AccessTokens.KEEP_SECONDS - 1
    assert await tokens.token() == "token-1"
    now[0] += 2
    assert await tokens.token() == "token-2"
    tokens.forget()
    assert await tokens.token() == "token-3"


async def test_no_app_id_means_no_token_and_no_call_to_msal():
    credentials = CountingCredentials(app_id="", password="")
    assert await AccessTokens(credentials).token() is None
    assert credentials.fetches == 0


async def test_a_throttled_reply_is_tried_again_inside_the_turn(http, connector):
    client = ClientCache(http).connector(connector.url, MicrosoftAppCredentials("", ""))
    connector.fail(429, times=1, retry_after="0")
    await client.conversations.send_to_conversation(
        SAM.chat_id, Activity(type="message", text="through", conversation={"id": SAM.chat_id})
    )
    assert connector.refused == 1
    assert [s.text for s in connector.sent] == ["through"]


@pytest.mark.parametrize(
    "base", ["https://smba.trafficmanager.net/emea/", "https://smba.example/amer", "http://127.0.0.1:5000/"]
)
@pytest.mark.parametrize(
    "conversation_id, activity_id",
    [("a:1Xy-Ab_9", "1700000000000"), ("19:abc@thread.tacv2;messageid=17", "f:1;x"), ("a:1 b/ü?#%", None)],
)
async def test_replies_go_to_the_url_msrest_would_use(base, conversation_id, activity_id):
    from botframework.connector.aio import ConnectorClient
    from botframework.connector.aio.operations_async import ConversationsOperations
    from botframework.connector.auth import MicrosoftAppCredentials

    client = ConnectorClient(MicrosoftAppCredentials(None, None), base_url=base)
    quoted = {"conversationId": client.conversations._serialize.url("c", conversation_id, "str")}
    if activity_id is None:
        route = ConversationsOperations.send_to_conversation.metadata["url"]
    else:
        route = ConversationsOperations.reply_to_activity.metadata["url"]
        quoted["activityId"] = client.conversations._serialize.url("a", activity_id, "str")
    expected = client._client.format_url(route, **quoted)
    built = yarl.URL(activities_url(client.config.base_url, conversation_id, activity_id), encoded=True)
    assert str(built) == expected
    assert str(aiohttp.ClientRequest("POST", built).url) == expected  # sent as built, not re-quoted
