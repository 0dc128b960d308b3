"""A stand-in for Microsoft Graph's Teams app installations, on loopback.

Installing the app for a user (found in the connector's roster by object id or UPN) lets the
recording connector reach them, as Teams does; the installation's chat is their 1:1 chat.
"""

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.connector import RecordingConnector

TOKEN = "graph-token"


class StaticTokens:
    """The Graph token the stand-in expects, as the bot's token source would give it."""

    async def token(self) -> str | None:
        return TOKEN

    def forget(self) -> None:
        return None


@dataclass
class GraphStandIn:
    connector: RecordingConnector
    catalog_id: str = "a1b2c3d4-0000-4000-8000-0000000000ca"
    requests: list[tuple[str, str]] = field(default_factory=list)
    installations: dict[str, str] = field(default_factory=dict)  # Teams id to installation id

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("/v1.0"))

    def _user(self, request: web.Request) -> dict[str, Any] | None:
        named = request.match_info["user"].lower()
        return next(
            (
                entry
                for entry in self.connector.roster.values()
                if named in (entry["aadObjectId"].lower(), entry["userPrincipalName"].lower())
            ),
            None,
        )

    def _refusal(self, request: web.Request) -> web.Response | None:
        self.requests.append((request.method, request.path_qs))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": {"code": "InvalidAuthenticationToken"}}, status=401)
        if self._user(request) is None:
            return web.json_response({"error": {"code": "ResourceNotFound"}}, status=404)
        return None

    async def _install(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        bind = (await request.json()).get("teamsApp@odata.bind", "")
        if not bind.endswith(f"/appCatalogs/teamsApps/{self.catalog_id}"):
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        user = self._user(request)
        assert user is not None
        if user["id"] in self.installations:
            return web.json_response({"error": {"code": "Conflict"}}, status=409)
        self.installations[user["id"]] = f"installation-{next(self._ids)}"
        self.connector.install(user["id"])
        return web.Response(status=201)

    async def _installed_apps(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        user = self._user(request)
        assert user is not None
        assert f"teamsApp/id eq '{self.catalog_id}'" in request.query.get("$filter", "")
        found = self.installations.get(user["id"])
        return web.json_response({"value": [{"id": found}] if found else []})

    async def _chat(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        user = self._user(request)
        assert user is not None
        if self.installations.get(user["id"]) != request.match_info["installation"]:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        return web.json_response({"id": self.connector.chats[user["id"]]})

    async def start(self) -> None:
        app = web.Application()
        apps = "/v1.0/users/{user}/teamwork/installedApps"
        app.router.add_post(apps, self._install)
        app.router.add_get(apps, self._installed_apps)
        app.router.add_get(apps + "/{installation}/chat", self._chat)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.close()
