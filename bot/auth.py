"""Request authentication: the SDK's own checks, with every failure answered 401.

The stock validators raise whatever their JWT library raises (a garbage token, an unknown key id,
a wrong signature), which the stock adapter turns into a 500. Here any failure to authenticate
becomes a PermissionError, which the endpoint answers with 401.
"""

import logging
from collections.abc import Awaitable
from types import SimpleNamespace
from typing import TypeVar

from botbuilder.integration.aiohttp import (
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import Activity
from botframework.connector.auth import (
    AuthenticateRequestResult,
    BotFrameworkAuthentication,
    ChannelValidation,
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from botframework.connector.skills import BotFrameworkClient

from bot import signing_keys
from bot.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


async def _refused_unless_valid(check: Awaitable[T]) -> T:
    try:
        return await check
    except PermissionError:
        raise
    except Exception as error:  # every other failure is still a refused token
        log.warning("token refused", extra={"reason": type(error).__name__})
        raise PermissionError("invalid token") from error


class StrictAuthentication(BotFrameworkAuthentication):
    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        return await _refused_unless_valid(self._inner.authenticate_request(activity, auth_header))

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        return await _refused_unless_valid(
            self._inner.authenticate_streaming_request(auth_header, channel_id_header)
        )

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await _refused_unless_valid(self._inner.authenticate_channel_request(auth_header))

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._inner.create_connector_factory(claims_identity)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        return await self._inner.create_user_token_client(claims_identity)

    def create_bot_framework_client(self) -> BotFrameworkClient:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self._inner.get_originating_audience()


def sdk_configuration(settings: Settings) -> SimpleNamespace:
    """The settings as the SDK's configuration-driven classes read them."""
    return SimpleNamespace(
        APP_ID=settings.app_id or None,
        APP_PASSWORD=settings.app_password or None,
        # Without an app id the SDK's unauthenticated mode is its MultiTenant one: the others
        # insist on an app id.
        APP_TYPE="MultiTenant" if settings.local_only else settings.app_type,
        APP_TENANTID=settings.tenant_id or None,
    )


def credentials_factory(settings: Settings) -> ServiceClientCredentialsFactory:
    """The SDK's credentials for the bot's own calls: a client secret, or the managed identity's
    token from Azure's identity endpoint (UserAssignedMSI)."""
    return ConfigurationServiceClientCredentialFactory(sdk_configuration(settings))


def build_authentication(
    settings: Settings, credentials: ServiceClientCredentialsFactory | None = None
) -> StrictAuthentication:
    # The SDK's own key cache blocks the event loop while it fetches, with no timeout.
    signing_keys.install()
    if settings.openid_metadata_url:
        # The SDK reads this class attribute when it validates Teams' tokens.
        ChannelValidation.open_id_metadata_endpoint = settings.openid_metadata_url
    return StrictAuthentication(
        ConfigurationBotFrameworkAuthentication(sdk_configuration(settings), credentials_factory=credentials)
    )
