"""The bot's real aiohttp app on loopback, driven with Teams activities over HTTP."""

from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import OUTBOX, REACHER, SERVICES, create_app
from bot.config import Settings
from bot.connector import TokenSource
from bot.proactive import OutboxSender
from storage import roles_file
from tests.support import card_check, teams
from tests.support.clock import FakeClock
from tests.support.connector import RecordingConnector, Sent


class BotHarness:
    def __init__(
        self,
        database_url: str,
        connector: RecordingConnector,
        clock: FakeClock,
        *,
        graph_tokens: TokenSource | None = None,
        **settings: Any,
    ) -> None:
        self.connector = connector
        self.clock = clock
        self.graph_tokens = graph_tokens
        # Tests script people at machine speed; the rate limit's own tests turn it on.
        self.settings = Settings(database_url=database_url, **{"rate_limit_per_minute": 0, **settings})
        self._server: TestServer | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        app = create_app(
            self.settings, clock=self.clock, run_background=False, graph_tokens=self.graph_tokens
        )
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self._http = aiohttp.ClientSession()
        self.app = app

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._server is not None:
            await self._server.close()

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("/api/messages"))

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.app[SERVICES].sessions

    @property
    def outbox(self) -> OutboxSender:
        return self.app[OUTBOX]

    async def post(
        self, body: Any, *, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        assert self._http is not None
        headers = {"Content-Type": "application/json", **(headers or {})}
        self._installs(body)
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with self._http.post(self.endpoint, headers=headers, **kwargs) as response:
            payload: Any = None
            if response.content_type == "application/json":
                payload = await response.json()
                card_check.seen(f"answer to {_named(body)}", payload)
            return response.status, payload

    def _installs(self, body: Any) -> None:
        """Teams delivers an activity from a person's 1:1 chat only where the app is installed
        for them: the connector may then reach them there."""
        if not isinstance(body, dict):
            return
        conversation, sender = body.get("conversation"), body.get("from")
        if not isinstance(conversation, dict) or not isinstance(sender, dict):
            return  # a malformed activity, which the bot refuses
        teams_id, chat = sender.get("id"), conversation.get("id")
        if conversation.get("conversationType") == "personal" and isinstance(teams_id, str):
            self.connector.install(teams_id)
            if isinstance(chat, str):
                self.connector.chats.setdefault(teams_id, chat)

    async def get(self, path: str) -> tuple[int, Any]:
        assert self._http is not None and self._server is not None
        async with self._http.get(self._server.make_url(path)) as response:
            return response.status, await response.json()

    # --- as a person in Teams ---------------------------------------------------------------

    def meet(self, *people: teams.Person) -> None:
        """Put these people in the tenant's roster, as Teams would answer for them."""
        for person in people:
            self.connector.roster[person.teams_id] = person.roster_entry()
            self.connector.chats[person.teams_id] = person.chat_id

    async def say(self, person: teams.Person, text: str) -> list[Sent]:
        """Send a 1:1 message; returns what the bot sent back into that chat."""
        self.meet(person)
        before = len(self.connector.sent)
        status, _ = await self.post(teams.message(person, self.connector.url, text))
        assert status in (200, 201), status
        return [s for s in self.connector.sent[before:] if s.conversation_id == person.chat_id]

    async def invoke(self, person: teams.Person, name: str, value: dict[str, Any]) -> tuple[int, Any]:
        self.meet(person)
        return await self.post(teams.invoke(person, self.connector.url, name, value))

    async def import_roles(self, text: str = teams.ROLES_TOML) -> None:
        async with self.sessions() as session:
            await roles_file.apply(session, roles_file.parse(text), now=self.clock())
            await session.commit()

    async def deliver(self) -> int:
        """Run the outbox sender until nothing more is due now."""
        return await self.outbox.drain()

    async def reach(self) -> int:
        """Look for the people the bot cannot reach yet, in its teams' rosters and through Graph."""
        return await self.app[REACHER].run_once()

    async def rows(self, model: Any, *where: Any) -> list[Any]:
        async with self.sessions() as session:
            return list((await session.scalars(select(model).where(*where))).all())


def _named(body: Any) -> str:
    """What was posted, to name a card in a failure: the invoke's name or the activity's type."""
    if isinstance(body, dict):
        return str(body.get("name") or body.get("type") or "an activity")
    return "an activity"
