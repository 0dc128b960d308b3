"""Teams single sign-on for the workspace tab: Entra ID's access tokens, validated as Entra issues them.

The tab's page asks TeamsJS for a token (`authentication.getAuthToken`); Entra issues it for the
app's Application ID URI (`webApplicationInfo.resource` in the manifest). Its version follows the
app registration's `accessTokenAcceptedVersion` (Microsoft's "Access tokens" reference):

- v2.0: issuer `https://login.microsoftonline.com/{tid}/v2.0`, audience the app's client id;
- v1.0: issuer `https://sts.windows.net/{tid}/`, audience the Application ID URI `api://{host}/{app id}`.

Either way the signature must come from the tenant's signing keys (fetched from the OpenID metadata
through `bot.signing_keys.KeySet`, which never blocks the loop), the tenant must be the council's,
the token must be in date, delegated (a `scp` naming `access_as_user`, the scope Teams' SSO asks
for) and name the person by object id. The person is their tenant and object id.
"""

import logging
from dataclasses import dataclass
from typing import Any

import jwt

from bot.signing_keys import KeySet

log = logging.getLogger(__name__)

SCOPE = "access_as_user"
LEEWAY_SECONDS = 60  # clock skew between Entra and this server, as Microsoft's libraries allow
ALGORITHMS = ["RS256"]


def default_metadata_url(tenant_id: str) -> str:
    return f"https://login.microsoftonline.com/{tenant_id}/v2.0/.well-known/openid-configuration"


class TokenRefused(Exception):
    """Why a token is not accepted, in words for the log (never the token)."""


@dataclass(frozen=True)
class SignedIn:
    tenant_id: str
    object_id: str
    name: str | None


class EntraTokens:
    """Validates the tab's bearer tokens for one app in one tenant."""

    def __init__(self, *, app_id: str, tenant_id: str, app_id_uri: str, metadata_url: str) -> None:
        self.app_id = app_id
        self.tenant_id = tenant_id
        self.app_id_uri = app_id_uri
        self.keys = KeySet(metadata_url)

    def _expected(self, version: Any) -> tuple[str, str]:
        """The issuer and audience a token of this version must carry."""
        if version == "2.0":
            return f"https://login.microsoftonline.com/{self.tenant_id}/v2.0", self.app_id
        if version == "1.0":
            return f"https://sts.windows.net/{self.tenant_id}/", self.app_id_uri
        raise TokenRefused("not an Entra access token version")

    async def validate(self, token: str) -> SignedIn:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise TokenRefused("not a JWT") from error
        if header.get("alg") not in ALGORITHMS:
            raise TokenRefused("not signed with RS256")
        issuer, audience = self._expected(unverified.get("ver"))
        try:
            key = await self.keys.get(header.get("kid"))
        except LookupError as error:
            raise TokenRefused("signing key unknown") from error
        try:
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=ALGORITHMS,
                audience=audience,
                issuer=issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "nbf", "iat", "iss", "aud", "tid", "oid"]},
            )
        except jwt.PyJWTError as error:
            raise TokenRefused(type(error).__name__) from error
        if claims.get("tid") != self.tenant_id:
            raise TokenRefused("another tenant")
        if SCOPE not in str(claims.get("scp", "")).split():
            raise TokenRefused("not a delegated token for the tab")
        object_id = claims.get("oid")
        if not isinstance(object_id, str) or not object_id or len(object_id) > 64:
            raise TokenRefused("no object id")
        name = claims.get("name")
        return SignedIn(self.tenant_id, object_id, name if isinstance(name, str) else None)
