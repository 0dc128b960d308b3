"""Bearer tokens as Bot Framework signs them, checked against keys this test publishes.

The signing keys are served by a JSON Web Key Set on loopback; the SDK fetches them with a
blocking HTTP client, so the key server runs in a thread of its own.
"""

import asyncio
import json
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bot import signing_keys
from bot.connector import AppCredentialsTokenSource
from tests.support import teams
from tests.support.harness import BotHarness
from tests.support.loopback import LoopbackJson
from tests.support.teams import SAM

APP_ID = "00000000-0000-4000-8000-00000000a991"
ISSUER = "https://api.botframework.com"


class KeySet(LoopbackJson):
    def __init__(self) -> None:
        self.trusted = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.trusted.public_key()))
        self.keys = {"keys": [{**jwk, "kid": "trusted-key", "use": "sig", "endorsements": ["msteams"]}]}
        super().__init__()

    def answer(self, path: str, params: dict[str, str], headers: Any) -> dict[str, Any] | None:
        if path == "/.well-known/openid-configuration":
            return {"issuer": ISSUER, "jwks_uri": f"{self.base}/keys"}
        return self.keys if path == "/keys" else None

    def token(self, service_url: str, *, key: Any = None, kid: str = "trusted-key", **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": APP_ID,
            "serviceurl": service_url,
            "nbf": now - 60,
            "exp": now + 3600,
            **claims,
        }
        return jwt.encode(payload, key or self.trusted, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def keyset() -> Iterator[KeySet]:
    from botframework.connector.auth import ChannelValidation

    keys = KeySet()
    keys.start()
    yield keys
    keys.stop()
    ChannelValidation.open_id_metadata_endpoint = None


@pytest.fixture
async def secured(database_url, connector, clock, keyset):
    bot = BotHarness(
        database_url,
        connector,
        clock,
        app_id=APP_ID,
        app_password="not-used-in-these-tests",
        tenant_id=teams.TENANT_ID,
        openid_metadata_url=f"{keyset.base}/.well-known/openid-configuration",
    )
    await bot.start()
    yield bot
    await bot.stop()


def _activity(connector_url: str) -> dict[str, Any]:
    # A typing indicator needs no reply, so a valid token leads to no call out to Azure AD.
    activity = teams.message(SAM, connector_url, "")
    activity["type"] = "typing"
    return activity


async def test_a_properly_signed_token_is_accepted(secured, keyset, connector):
    token = keyset.token(connector.url)
    status, _ = await secured.post(_activity(connector.url), headers={"Authorization": f"Bearer {token}"})
    assert status == 201


@pytest.mark.parametrize(
    "case",
    [
        "no header",
        "garbage",
        "not bearer",
        "wrong key",
        "unknown key id",
        "wrong issuer",
        "wrong audience",
        "expired",
        "service url mismatch",
        "unsigned",
    ],
)
async def test_bad_tokens_get_401_never_500(secured, keyset, connector, case):
    url = connector.url
    headers = {
        "no header": {},
        "garbage": {"Authorization": "Bearer not.a.token"},
        "not bearer": {"Authorization": f"Basic {keyset.token(url)}"},
        "wrong key": {"Authorization": f"Bearer {keyset.token(url, key=keyset.stranger)}"},
        "unknown key id": {"Authorization": f"Bearer {keyset.token(url, kid='somebody-else')}"},
        "wrong issuer": {"Authorization": f"Bearer {keyset.token(url, iss='https://evil.example')}"},
        "wrong audience": {"Authorization": f"Bearer {keyset.token(url, aud='another-bot')}"},
        "expired": {
            "Authorization": "Bearer "
            + keyset.token(url, exp=int(time.time()) - 3600, nbf=int(time.time()) - 7200)
        },
        "service url mismatch": {
            "Authorization": f"Bearer {keyset.token('https://smba.trafficmanager.net/evil/')}"
        },
        "unsigned": {
            "Authorization": "Bearer "
            + jwt.encode({"iss": ISSUER, "aud": APP_ID, "serviceurl": url}, None, algorithm="none")
        },
    }[case]
    status, body = await secured.post(teams.message(SAM, url, "help"), headers=headers)
    assert status == 401, case
    assert body == {"error": "unauthorised"}
    assert connector.sent == []
    # And the bot is still up for the next, honest request.
    status, _ = await secured.post(_activity(url), headers={"Authorization": f"Bearer {keyset.token(url)}"})
    assert status == 201


# --- a user-assigned managed identity --------------------------------------------------------


class IdentityEndpoint(LoopbackJson):
    """A stand-in for Azure's managed identity endpoints on loopback: IMDS as on a virtual machine or
    container, and App Service's."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []
        super().__init__()

    def answer(self, path: str, params: dict[str, str], headers: Any) -> dict[str, Any] | None:
        self.asked.append({"path": path, "params": params, "headers": dict(headers)})
        token = f"msi-token-for-{params.get('client_id')}"
        if path == "/metadata/identity/oauth2/token" and headers.get("Metadata") == "true":
            body = {"access_token": token, "expires_in": "3600", "token_type": "Bearer"}
        elif path == "/msi/token" and headers.get("X-IDENTITY-HEADER") == "app-service-header":
            body = {"access_token": token, "expires_on": str(int(time.time()) + 3600)}
        else:
            return None
        return {**body, "resource": params.get("resource")}


@pytest.fixture
def identity_endpoint() -> Iterator[IdentityEndpoint]:
    endpoint = IdentityEndpoint()
    endpoint.start()
    yield endpoint
    endpoint.stop()


AZURE_IDENTITY_ENV = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT")


def _point_msal_at(monkeypatch, endpoint: IdentityEndpoint, where: str) -> None:
    # The variables Azure sets and MSAL's managed identity client reads to find its endpoint.
    for name in (*AZURE_IDENTITY_ENV, "MSI_ENDPOINT", "MSI_SECRET", "AZURE_POD_IDENTITY_AUTHORITY_HOST"):
        monkeypatch.delenv(name, raising=False)
    if where == "imds":
        monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", endpoint.base)
    else:
        monkeypatch.setenv("IDENTITY_ENDPOINT", f"{endpoint.base}/msi/token")
        monkeypatch.setenv("IDENTITY_HEADER", "app-service-header")


@pytest.mark.parametrize("where", ["imds", "app service"])
async def test_a_managed_identity_signs_replies_with_its_token(
    database_url, connector, clock, keyset, identity_endpoint, monkeypatch, where
):
    _point_msal_at(monkeypatch, identity_endpoint, where)
    # An identity of its own per case: MSAL keeps managed identity tokens in one cache per process.
    client_id = str(uuid.uuid4())
    bot = BotHarness(
        database_url,
        connector,
        clock,
        app_type="UserAssignedMSI",
        app_id=client_id,
        tenant_id=teams.TENANT_ID,
        link_signing_key="k" * 32,
        openid_metadata_url=f"{keyset.base}/.well-known/openid-configuration",
    )
    await bot.start()
    try:
        # Teams' token for a managed identity bot names the identity's client id as its audience.
        token = keyset.token(connector.url, aud=client_id)
        headers = {"Authorization": f"Bearer {token}"}
        status, _ = await bot.post(teams.message(SAM, connector.url, "help"), headers=headers)
        assert status in (200, 201)
        assert await AppCredentialsTokenSource(bot.settings).token() == f"msi-token-for-{client_id}"
    finally:
        await bot.stop()
    replies = connector.to(SAM.chat_id)
    assert replies, "the bot answered"
    assert {sent.authorization for sent in replies} == {f"Bearer msi-token-for-{client_id}"}
    (asked, *_) = identity_endpoint.asked
    # A token for the Bot Connector, for this identity, with no secret anywhere in the request.
    assert asked["params"]["resource"] == "https://api.botframework.com"
    assert asked["params"]["client_id"] == client_id
    assert "client_secret" not in asked["params"]


async def test_a_managed_identity_token_is_refused_for_another_identity(
    database_url, connector, clock, keyset, identity_endpoint, monkeypatch
):
    _point_msal_at(monkeypatch, identity_endpoint, "imds")
    bot = BotHarness(
        database_url,
        connector,
        clock,
        app_type="UserAssignedMSI",
        app_id=str(uuid.uuid4()),
        tenant_id=teams.TENANT_ID,
        link_signing_key="k" * 32,
        openid_metadata_url=f"{keyset.base}/.well-known/openid-configuration",
    )
    await bot.start()
    try:
        token = keyset.token(connector.url, aud=str(uuid.uuid4()))
        status, _ = await bot.post(
            teams.message(SAM, connector.url, "help"), headers={"Authorization": f"Bearer {token}"}
        )
    finally:
        await bot.stop()
    assert status == 401
    assert connector.sent == [] and identity_endpoint.asked == []


# --- a slow key server -------------------------------------------------------------------------


class SlowKeySet(KeySet):
    """The same keys, each answer held back `delay` seconds, and every request counted."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.asked = 0
        super().__init__()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        inner = super()._handler()
        keyset = self

        class Slow(inner):  # type: ignore[misc,valid-type]
            def do_GET(self) -> None:
                keyset.asked += 1
                time.sleep(keyset.delay)
                super().do_GET()

        return Slow


@pytest.fixture
async def slow_keys(database_url, connector, clock, request) -> Any:
    from botframework.connector.auth import ChannelValidation

    keys = SlowKeySet(delay=request.param)
    keys.start()
    bot = BotHarness(
        database_url,
        connector,
        clock,
        app_id=APP_ID,
        app_password="not-used-in-these-tests",
        tenant_id=teams.TENANT_ID,
        # A path of its own: the key sets are per process, by URL.
        openid_metadata_url=f"{keys.base}/{uuid.uuid4()}/../.well-known/openid-configuration",
    )
    await bot.start()
    yield bot, keys
    await bot.stop()
    keys.stop()
    ChannelValidation.open_id_metadata_endpoint = None


async def _timed(call: Any) -> tuple[float, Any]:
    started = time.monotonic()
    result = await call
    return time.monotonic() - started, result


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("slow_keys", [2.0], indirect=True)
async def test_healthz_answers_promptly_while_a_forged_token_waits_for_slow_keys(slow_keys, connector):
    # The SDK fetched keys with a blocking call in the event loop: every request, /healthz too, waited.
    bot, keys = slow_keys
    forged = keys.token(connector.url, key=keys.stranger)
    # Timed from a thread of its own: a blocked event loop would stop a timer kept in it as well.
    health: list[tuple[float, int]] = []
    watcher = threading.Thread(target=lambda: health.append(_healthz_after(bot, 0.3)))
    watcher.start()
    took, (status, _) = await _timed(
        bot.post(_activity(connector.url), headers={"Authorization": f"Bearer {forged}"})
    )
    assert status == 401 and took >= 1.5  # it waited for the keys; nobody else did
    await asyncio.to_thread(watcher.join)
    ((waited, healthy),) = health
    assert healthy == 200 and waited < 0.5, waited


def _healthz_after(bot: BotHarness, delay: float) -> tuple[float, int]:
    time.sleep(delay)
    started = time.monotonic()
    url = bot.endpoint.replace("/api/messages", "/healthz")
    with urllib.request.urlopen(url, timeout=10) as response:
        return time.monotonic() - started, response.status


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("slow_keys", [30.0], indirect=True)
async def test_a_key_server_that_hangs_is_given_up_on_and_not_asked_on_every_request(
    slow_keys, connector, monkeypatch
):
    monkeypatch.setattr(signing_keys, "FETCH_SECONDS", 0.5)
    bot, keys = slow_keys
    forged = {"Authorization": f"Bearer {keys.token(connector.url, kid='made-up')}"}
    for _ in range(5):
        took, (status, _) = await _timed(bot.post(_activity(connector.url), headers=forged))
        assert status == 401 and took < 2, took
    assert keys.asked == 1  # one fetch, timed out; then the bot waits before asking again
