"""Connector and user-token clients built once and reused, sending through the bot's aiohttp session.

The stock `CloudAdapter` asks its authentication for a new msrest `ConnectorClient` and a new
user-token client on every turn. Each build costs milliseconds of configuration, retry policy
and serializer set-up, and each client sends with `requests` in a thread pool, signing every
request with a synchronous call into MSAL on the event loop. Under a burst that is most of the
bot's time.

Here the SDK still authenticates every request (the strict wrapper in `bot.auth`), still creates
the credentials for each turn from its own credentials factory, and still builds the same msrest
clients; they are kept per service URL and credentials, and a different set of credentials (a
rotated secret, another app id or audience) gets a client of its own. Requests go out through
one shared aiohttp session, with the bearer token fetched off the event loop and cached.
"""

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from typing import Any

import aiohttp
import yarl
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ErrorResponseException, ResourceResponse
from botframework.connector.aio import ConnectorClient
from botframework.connector.aio.operations_async import ConversationsOperations
from botframework.connector.auth import (
    AppCredentials,
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from botframework.connector.auth._user_token_client_impl import _UserTokenClientImpl
from botframework.connector.skills import BotFrameworkClient
from msrest.pipeline import AsyncHTTPPolicy, AsyncHTTPSender, AsyncPipeline, Request, Response
from msrest.pipeline.universal import RawDeserializer
from msrest.universal_http import ClientRequest
from msrest.universal_http.async_abc import AsyncClientResponse

from bot.auth import build_authentication, credentials_factory
from bot.config import Settings
from bot.connector import AccessTokens, activities_url
from bot.wire import activity_to_json

log = logging.getLogger(__name__)

USER_AGENT = "engagement-bot (BotBuilder Python 4.17.1)"
# Service URLs are few (Teams' regions); the bound only stops an unauthenticated local caller
# from growing the cache without end.
MAX_CLIENTS = 64
# An in-turn reply that takes longer than this is past Teams' patience anyway.
REQUEST_TIMEOUT_SECONDS = 15.0
# Throttled or briefly unavailable: worth a short second try inside the turn, no more.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_DELAYS = (0.25, 1.0)


def fingerprint(credentials: Any) -> str:
    """What makes two credentials objects the same: type, app id, secret, tenant, scope."""
    digest = hashlib.sha256(type(credentials).__qualname__.encode())
    for name, value in sorted(vars(credentials).items()):
        if value is None or isinstance(value, str | int | bool):
            digest.update(f"\0{name}\0{value}".encode())
    return digest.hexdigest()


class _Answer(AsyncClientResponse):
    def __init__(self, request: ClientRequest, response: aiohttp.ClientResponse, body: bytes) -> None:
        super().__init__(request, response)
        self.status_code = response.status
        self.headers = dict(response.headers)
        self.reason = response.reason
        self._body = body

    def body(self) -> bytes:
        return self._body


class SharedSessionSender(AsyncHTTPSender):  # type: ignore[misc]
    """msrest's last step, sending through the app's aiohttp session instead of `requests`."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self._http = http
        self._timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)

    async def __aenter__(self) -> "SharedSessionSender":
        return self

    async def __aexit__(self, *exc_details: Any) -> None:
        return None  # the session belongs to the app, which closes it at shutdown

    async def send(self, request: Request, **config: Any) -> Response:
        http_request: ClientRequest = request.http_request
        for delay in (*RETRY_DELAYS, None):
            async with self._http.request(
                http_request.method,
                http_request.url,
                headers=http_request.headers,
                data=http_request.data,
                timeout=self._timeout,
            ) as response:
                body = await response.read()
            if response.status not in RETRY_STATUSES or delay is None:
                break
            await asyncio.sleep(delay)
        return Response(request, _Answer(http_request, response, body))


class BearerToken(AsyncHTTPPolicy):  # type: ignore[misc]
    """Signs each request with the app's token, fetched off the event loop and cached."""

    def __init__(self, tokens: AccessTokens) -> None:
        super().__init__()
        self._tokens = tokens

    async def send(self, request: Request, **kwargs: Any) -> Response:
        token = await self._tokens.token()
        if token:
            request.http_request.headers["Authorization"] = f"Bearer {token}"
        response: Response = await self.next.send(request, **kwargs)
        if response.http_response.status_code == 401:
            self._tokens.forget()  # expired early or the secret was rotated: ask again next time
        return response


class DirectConversations(ConversationsOperations):
    """The conversation operations a turn uses to answer, posted straight through the app's session.

    A reply is the one outgoing call in most turns. Through msrest it costs about a millisecond of
    serialization and pipeline on the event loop; here the activity is serialized by walking its
    schema (`bot.wire`) and sent with the same token, headers, timeout and retries. Failures raise
    the SDK's `ErrorResponseException`, as msrest would. Every other operation is msrest's.
    """

    def __init__(self, inner: ConversationsOperations, http: aiohttp.ClientSession, tokens: AccessTokens):
        super().__init__(inner._client, inner.config, inner._serialize, inner._deserialize)
        self._http = http
        self._tokens = tokens
        self._timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)

    async def reply_to_activity(
        self, conversation_id, activity_id, activity, *, custom_headers=None, raw=False, **operation_config
    ):
        if raw or operation_config:
            return await super().reply_to_activity(
                conversation_id,
                activity_id,
                activity,
                custom_headers=custom_headers,
                raw=raw,
                **operation_config,
            )
        # Built once and sent as built: msrest's format_url joined and parsed it, and aiohttp
        # parsed and quoted it again.
        base = self._client.config.base_url
        url = yarl.URL(activities_url(base, conversation_id, activity_id), encoded=True)
        return await self._post(url, conversation_id, activity, custom_headers)

    async def send_to_conversation(
        self, conversation_id, activity, *, custom_headers=None, raw=False, **operation_config
    ):
        if raw or operation_config:
            return await super().send_to_conversation(
                conversation_id, activity, custom_headers=custom_headers, raw=raw, **operation_config
            )
        url = yarl.URL(activities_url(self._client.config.base_url, conversation_id), encoded=True)
        return await self._post(url, conversation_id, activity, custom_headers)

    async def _post(
        self, url: yarl.URL, conversation_id: str, activity: Activity, custom_headers: dict[str, str] | None
    ) -> ResourceResponse | None:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json; charset=utf-8",
            "x-ms-conversation-id": conversation_id,
            "User-Agent": self._client.config.user_agent,
            **(custom_headers or {}),
        }
        token = await self._tokens.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps(activity_to_json(activity)).encode()
        for delay in (*RETRY_DELAYS, None):
            async with self._http.post(url, data=body, headers=headers, timeout=self._timeout) as response:
                answer = await response.read()
            if response.status not in RETRY_STATUSES or delay is None:
                break
            await asyncio.sleep(delay)
        if response.status == 401:
            self._tokens.forget()  # expired early or the secret was rotated: ask again next time
        if response.status not in (200, 201, 202):
            request = ClientRequest("POST", str(url))
            raise ErrorResponseException(self._deserialize, _Answer(request, response, answer))
        try:
            found = json.loads(answer) if answer else None
        except ValueError:
            found = None
        return ResourceResponse(id=found.get("id")) if isinstance(found, dict) else None


def _reuse_pipeline(client: Any, http: aiohttp.ClientSession, tokens: AccessTokens) -> None:
    config = client.config
    config.add_user_agent(USER_AGENT)
    config.pipeline = AsyncPipeline(
        [config.user_agent_policy, BearerToken(tokens), RawDeserializer(), config.http_logger_policy],
        SharedSessionSender(http),
    )


class ClientCache:
    """The bot's connector and user-token clients, one per service URL and set of credentials."""

    def __init__(self, http: aiohttp.ClientSession, *, size: int = MAX_CLIENTS) -> None:
        self._http = http
        self._size = size
        self._connectors: OrderedDict[tuple[str, str], ConnectorClient] = OrderedDict()
        self._user_tokens: OrderedDict[tuple[str, str, str], UserTokenClient] = OrderedDict()
        self._tokens: OrderedDict[str, AccessTokens] = OrderedDict()
        self.built = 0  # how many clients were made: tests and the bench read it

    def _remember(self, cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        cache[key] = value
        while len(cache) > self._size:
            cache.popitem(last=False)

    def tokens(self, credentials: AppCredentials) -> AccessTokens:
        """One token cache per set of credentials, so a reused client never asks MSAL twice."""
        key = fingerprint(credentials)
        tokens = self._tokens.get(key)
        if tokens is None:
            tokens = AccessTokens(credentials)
            self._remember(self._tokens, key, tokens)
        return tokens

    def connector(self, service_url: str, credentials: AppCredentials) -> ConnectorClient:
        key = (service_url, fingerprint(credentials))
        client = self._connectors.get(key)
        if client is None:
            client = ConnectorClient(credentials, base_url=service_url)
            tokens = self.tokens(credentials)
            _reuse_pipeline(client, self._http, tokens)
            client.conversations = DirectConversations(client.conversations, self._http, tokens)
            self.built += 1
            self._remember(self._connectors, key, client)
        else:
            self._connectors.move_to_end(key)
        return client

    def user_token(self, app_id: str, credentials: AppCredentials, oauth_endpoint: str) -> UserTokenClient:
        key = (app_id or "", oauth_endpoint, fingerprint(credentials))
        client = self._user_tokens.get(key)
        if client is None:
            client = _UserTokenClientImpl(app_id, credentials, oauth_endpoint)
            _reuse_pipeline(client._client, self._http, self.tokens(credentials))
            self.built += 1
            self._remember(self._user_tokens, key, client)
        else:
            self._user_tokens.move_to_end(key)
        return client


def app_id_of(claims_identity: ClaimsIdentity) -> str | None:
    # As the SDK reads it: Teams puts the bot's app id in the audience, the emulator in appid.
    return claims_identity.get_claim_value(
        AuthenticationConstants.AUDIENCE_CLAIM
    ) or claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)


class ReusingConnectorFactory(ConnectorFactory):
    def __init__(
        self,
        clients: ClientCache,
        credentials: ServiceClientCredentialsFactory,
        app_id: str | None,
        *,
        oauth_scope: str,
        login_endpoint: str,
    ) -> None:
        self._clients = clients
        self._credentials = credentials
        self._app_id = app_id
        self._oauth_scope = oauth_scope
        self._login_endpoint = login_endpoint

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        # Asked for every turn, as the SDK does, so that changed credentials take effect at once.
        credentials = await self._credentials.create_credentials(
            self._app_id, audience or self._oauth_scope, self._login_endpoint, True
        )
        return self._clients.connector(service_url, credentials)


class ReusingClients(BotFrameworkAuthentication):
    """The bot's authentication, unchanged, handing out reused clients (Azure public cloud)."""

    def __init__(
        self,
        inner: BotFrameworkAuthentication,
        credentials: ServiceClientCredentialsFactory,
        clients: ClientCache,
    ) -> None:
        self._inner = inner
        self._credentials = credentials
        self.clients = clients
        # The endpoints the SDK's public-cloud authentication uses for the same purposes.
        self._oauth_scope = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        self._login_endpoint = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
        self._oauth_endpoint = AuthenticationConstants.OAUTH_URL

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result = await self._inner.authenticate_request(activity, auth_header)
        result.connector_factory = self.create_connector_factory(result.claims_identity)
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return ReusingConnectorFactory(
            self.clients,
            self._credentials,
            app_id_of(claims_identity),
            oauth_scope=self._oauth_scope,
            login_endpoint=self._login_endpoint,
        )

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        app_id = app_id_of(claims_identity)
        credentials = await self._credentials.create_credentials(
            app_id, self._oauth_scope, self._login_endpoint, True
        )
        return self.clients.user_token(app_id or "", credentials, self._oauth_endpoint)

    def create_bot_framework_client(self) -> BotFrameworkClient:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self._inner.get_originating_audience()


def build_adapter(
    settings: Settings,
    http: aiohttp.ClientSession,
    credentials: ServiceClientCredentialsFactory | None = None,
) -> CloudAdapter:
    """The SDK's CloudAdapter with the strict authentication and clients reused across turns."""
    # One credentials factory serves the token checks and the outgoing clients alike.
    credentials = credentials or credentials_factory(settings)
    return CloudAdapter(
        ReusingClients(build_authentication(settings, credentials), credentials, ClientCache(http))
    )
