"""Installing the app for a person through Microsoft Graph, so that the bot can message them.

Teams lets a bot start a 1:1 chat only with someone it shares a team with, or for whom the app
is installed. Admin setup policies install it, but their install events do not always reach the
bot; with `GRAPH_INSTALL=on` the bot installs itself for a person who holds a role and cannot be
reached (application permission TeamsAppInstallation.ReadWriteSelfForUser.All), then asks Graph
for the chat that the installation made.
"""

import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.connector import TokenSource

log = logging.getLogger(__name__)

# Client credentials for Graph: the SDK's credentials add "/.default" (MSAL), or ask Azure's
# identity endpoint for this resource (a managed identity).
GRAPH_SCOPE = "https://graph.microsoft.com"


class GraphError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GraphInstaller:
    def __init__(
        self, http: aiohttp.ClientSession, tokens: TokenSource, *, base_url: str, catalog_id: str
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._base = base_url.rstrip("/")
        self._catalog_id = catalog_id

    async def chat_for(self, user: str) -> str:
        """Install the app for this user (object id or UPN) if it is not yet, and return the id of
        the bot's 1:1 chat with them, which the Bot Connector accepts as a conversation id."""
        apps = f"{self._base}/users/{quote(user, safe='')}/teamwork/installedApps"
        bind = {
            "teamsApp@odata.bind": f"{self._base}/appCatalogs/teamsApps/{quote(self._catalog_id, safe='')}"
        }
        status, _ = await self._call("POST", apps, bind)
        if status not in (201, 409):  # 409: installed already, by a setup policy or earlier
            raise GraphError(f"install: HTTP {status}", status=status)
        installation = await self._installation(apps)
        status, chat = await self._call("GET", f"{apps}/{quote(installation, safe='')}/chat")
        if status != 200 or not isinstance(chat, dict) or not isinstance(chat.get("id"), str):
            raise GraphError(f"chat: HTTP {status}", status=status)
        return chat["id"]

    async def _installation(self, apps: str) -> str:
        query = f"?$expand=teamsApp&$filter=teamsApp/id eq '{self._catalog_id}'"
        status, found = await self._call("GET", apps + query)
        values = found.get("value") if isinstance(found, dict) else None
        if status != 200 or not values or not isinstance(values[0].get("id"), str):
            raise GraphError(f"installation: HTTP {status}", status=status)
        return str(values[0]["id"])

    async def _call(self, method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        token = await self._tokens.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with self._http.request(
                method, url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=30)
            ) as response:
                if response.status == 401:
                    self._tokens.forget()
                answer = await response.json() if response.content_type == "application/json" else None
                return response.status, answer
        except (TimeoutError, aiohttp.ClientError) as error:
            raise GraphError(f"network: {type(error).__name__}") from error
