"""Proactive calls to Teams' Bot Connector REST API, with the errors sorted for retrying.

Replies inside a turn go through the SDK's turn context; messages the bot starts itself (the
outbox) come through here, so that throttling (429 with Retry-After) and outages can be told
apart from a recipient who is gone for good.
"""

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
from botframework.connector.auth import (
    AppCredentials,
    AuthenticationConstants,
    ServiceClientCredentialsFactory,
)

from bot.auth import credentials_factory
from bot.config import Settings

log = logging.getLogger(__name__)

# Retry-After beyond this is treated as this: a notification must not wait a day on one header.
MAX_RETRY_AFTER_SECONDS = 600.0


class DeliveryError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientDeliveryError(DeliveryError):
    """Try again later: throttled, Teams unavailable, or the network down."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Will never succeed as it is: the user left, the bot was removed, the request is wrong."""


@dataclass(frozen=True)
class Address:
    service_url: str
    conversation_id: str


class TokenSource(Protocol):
    async def token(self) -> str | None: ...

    def forget(self) -> None: ...


class AccessTokens:
    """Bearer tokens for one set of app credentials, fetched off the event loop and kept a while.

    MSAL is synchronous: even a token from its cache costs a lock and a scan, and a fresh one is
    a network call. MSAL hands out only tokens with at least five minutes left, so one is reused
    here for four minutes at most, and a single fetch serves everyone waiting for it.
    """

    KEEP_SECONDS = 240.0

    def __init__(self, credentials: AppCredentials, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._credentials = credentials
        self._clock = clock
        app_id = credentials.microsoft_app_id
        # No app id (or the anonymous skill id) is the SDK's unauthenticated mode: no token at all.
        self._needed = bool(app_id) and app_id != AuthenticationConstants.ANONYMOUS_SKILL_APP_ID
        self._token: str | None = None
        self._until = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str | None:
        if not self._needed:
            return None
        if self._token is not None and self._clock() < self._until:
            return self._token
        async with self._lock:
            if self._token is None or self._clock() >= self._until:
                self._token = await asyncio.to_thread(self._credentials.get_access_token)
                self._until = self._clock() + self.KEEP_SECONDS
            return self._token

    def forget(self) -> None:
        self._token = None


class AppCredentialsTokenSource:
    """A Bot Framework access token for the bot's app id, or none when running locally.

    The credentials come from the same SDK factory as the adapter's (`bot.auth.credentials_factory`):
    MSAL with the client secret, or, for UserAssignedMSI, MSAL's managed identity client, which asks
    Azure's identity endpoint (IMDS, or App Service's IDENTITY_ENDPOINT) and needs no secret.
    """

    def __init__(
        self,
        settings: Settings,
        credentials: ServiceClientCredentialsFactory | None = None,
        *,
        scope: str = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
    ) -> None:
        self._app_id = settings.app_id
        self._factory = credentials or credentials_factory(settings)
        self._scope = scope  # the Bot Connector's by default; Microsoft Graph's for app installs
        self._tokens: AccessTokens | None = None

    async def token(self) -> str | None:
        if not self._app_id:
            return None
        if self._tokens is None:
            self._tokens = AccessTokens(
                await self._factory.create_credentials(
                    self._app_id,
                    self._scope,
                    AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX,
                    True,
                )
            )
        return await self._tokens.token()

    def forget(self) -> None:
        if self._tokens is not None:
            self._tokens.forget()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, min(seconds, MAX_RETRY_AFTER_SECONDS))


class TeamsConnector:
    def __init__(self, http: aiohttp.ClientSession, tokens: TokenSource) -> None:
        self._http = http
        self._tokens = tokens

    async def send(self, to: Address, activity: dict[str, Any] | str) -> str | None:
        """Post an activity: a dict, or JSON text already encoded (the outbox's, as stored)."""
        url = activities_url(to.service_url, to.conversation_id)
        body = await self._call("POST", url, activity)
        return body.get("id") if isinstance(body, dict) else None

    async def start_thread(
        self, service_url: str, channel_id: str, tenant_id: str | None, activity: dict[str, Any]
    ) -> tuple[str, str | None]:
        """Post a new thread in a channel; returns the thread's conversation id and the message id."""
        body: dict[str, Any] = {
            "isGroup": True,
            "channelData": {"channel": {"id": channel_id}},
            "activity": activity,
        }
        if tenant_id:
            body["channelData"]["tenant"] = {"id": tenant_id}
            body["tenantId"] = tenant_id
        answer = await self._call("POST", f"{service_url.rstrip('/')}/v3/conversations", body)
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
            raise PermanentDeliveryError("Teams did not name the new thread")
        return answer["id"], answer.get("activityId")

    async def start_personal(
        self, service_url: str, *, bot_id: str, member_id: str, tenant_id: str | None
    ) -> str:
        """Start (or find: Teams keeps one per person) the bot's 1:1 chat with a member of a team
        the bot is in, or with someone the app is installed for; returns its conversation id.

        Teams answers 403 for anyone else: the bot may only message where it is installed."""
        body: dict[str, Any] = {"isGroup": False, "bot": {"id": bot_id}, "members": [{"id": member_id}]}
        if tenant_id:
            body["tenantId"] = tenant_id
            body["channelData"] = {"tenant": {"id": tenant_id}}
        answer = await self._call("POST", f"{service_url.rstrip('/')}/v3/conversations", body)
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
            raise PermanentDeliveryError("Teams did not name the new chat")
        return answer["id"]

    async def update(self, to: Address, activity_id: str, activity: dict[str, Any] | str) -> None:
        """Replace an activity: a dict, or JSON text already encoded (the outbox's, as stored,
        which holds no id of its own)."""
        url = activities_url(to.service_url, to.conversation_id, activity_id)
        await self._call("PUT", url, with_id(activity, activity_id))

    async def _call(self, method: str, url: str, payload: dict[str, Any] | str) -> Any:
        headers = {"Content-Type": "application/json"}
        try:
            token = await self._tokens.token()
        except Exception as error:  # Entra ID unreachable or refusing: try again later
            raise TransientDeliveryError(f"no token: {type(error).__name__}") from error
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with self._http.request(
                method,
                url,
                data=(payload if isinstance(payload, str) else json.dumps(payload)).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=30),
            ) as response:
                status = response.status
                if status < 300:
                    if response.content_type == "application/json":
                        return await response.json()
                    return None
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError) as error:
            raise TransientDeliveryError(f"network: {type(error).__name__}") from error
        if status == 401:
            self._tokens.forget()  # the token expired early or the secret is being rotated
        # Teams' rate-limit guidance: retry 412 (a conflicting operation on the conversation),
        # 429, 502 and 504 with exponential back-off; the outbox's back-off doubles each attempt.
        if status in (401, 408, 412, 429) or status >= 500:
            raise TransientDeliveryError(f"HTTP {status}", status=status, retry_after=retry_after)
        raise PermanentDeliveryError(f"HTTP {status}", status=status)


def with_id(activity: dict[str, Any] | str, activity_id: str) -> dict[str, Any] | str:
    """The activity naming the one it replaces. Stored text gets the id put in front without
    being decoded and encoded again: for a decision that had been a twentieth of its CPU."""
    if isinstance(activity, dict):
        return {**activity, "id": activity_id}
    body = activity.strip()
    if not body.startswith("{") or not body.endswith("}"):
        raise PermanentDeliveryError("a stored activity is not a JSON object")
    rest = body[1:].lstrip()
    return '{"id": ' + json.dumps(activity_id) + ("}" if rest == "}" else ", " + rest)


def activities_url(service_url: str, conversation_id: str, activity_id: str | None = None) -> str:
    """The Bot Connector's URL for a conversation's activities, or for one of them (a reply, an
    update), quoted as msrest's `format_url` quotes it."""
    url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}/activities"
    if activity_id is not None:
        url += f"/{quote(activity_id, safe='')}"
    return url
