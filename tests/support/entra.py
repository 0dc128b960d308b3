"""Entra ID as the workspace tab meets it: the tenant's signing keys published on loopback, and
access tokens signed as Entra signs them for Teams SSO (v1.0 and v2.0)."""

import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.loopback import LoopbackJson
from tests.support.teams import TENANT_ID, Person

APP_ID = "00000000-0000-4000-8000-00000000a991"
HOST = "engagement.council.example"
APP_ID_URI = f"api://{HOST}/{APP_ID}"
V2_ISSUER = f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"
V1_ISSUER = f"https://sts.windows.net/{TENANT_ID}/"


class EntraKeys(LoopbackJson):
    """The tenant's OpenID metadata and key set; `token` signs an access token for a person."""

    def __init__(self) -> None:
        self.trusted = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.trusted.public_key()))
        self.keys = {"keys": [{**jwk, "kid": "entra-key", "use": "sig"}]}
        super().__init__()

    @property
    def metadata_url(self) -> str:
        return f"{self.base}/{TENANT_ID}/v2.0/.well-known/openid-configuration"

    def answer(self, path: str, params: dict[str, str], headers: Any) -> dict[str, Any] | None:
        if path == f"/{TENANT_ID}/v2.0/.well-known/openid-configuration":
            return {"issuer": V2_ISSUER, "jwks_uri": f"{self.base}/{TENANT_ID}/discovery/v2.0/keys"}
        return self.keys if path == f"/{TENANT_ID}/discovery/v2.0/keys" else None

    def token(
        self,
        person: Person,
        *,
        version: str = "2.0",
        key: Any = None,
        kid: str = "entra-key",
        lifetime: int = 3600,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {
            "ver": version,
            "iss": V2_ISSUER if version == "2.0" else V1_ISSUER,
            "aud": APP_ID if version == "2.0" else APP_ID_URI,
            "tid": TENANT_ID,
            "oid": person.aad_object_id,
            "name": person.name,
            "scp": "access_as_user",
            "iat": now - 30,
            "nbf": now - 30,
            "exp": now + lifetime,
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key or self.trusted, algorithm="RS256", headers={"kid": kid})

    def settings(self) -> dict[str, Any]:
        """What a bot with this app id in this tenant is configured with."""
        return {
            "app_id": APP_ID,
            "app_password": "test-secret",
            "tenant_id": TENANT_ID,
            "public_url": f"https://{HOST}",
            "entra_openid_metadata_url": self.metadata_url,
        }
