"""The servers `bench/load.py` compares, each run as a process of its own so its memory is its own.

    python bench/servers.py connector   a loopback Bot Connector that answers and counts what bots send
    python bench/servers.py bare        a bare aiohttp handler that parses the activity's JSON
    python bench/servers.py reply       the same, posting a reply to the Connector: no SDK, no register
    python bench/servers.py echo        a stock botbuilder echo bot (CloudAdapter, ActivityHandler)
    python bench/servers.py bot         this bot, as `engagement-bot serve` runs it (settings, and
                                        WORKERS, from env)

Each binds a free port on 127.0.0.1 and prints `port N` when it is ready.
"""

import asyncio
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web


async def _serve(app: web.Application) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"port {port}", flush=True)
    await asyncio.Event().wait()


class Connector:
    """Teams' Bot Connector as far as the bots use it: it answers at once and remembers a little."""

    def __init__(self) -> None:
        self.roster: dict[str, dict[str, Any]] = {}
        self.sent: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.times: dict[str, list[float]] = defaultdict(list)
        self.keep = False  # whole activities are kept only when the bench asks (to find cards)
        self.count = 0
        self.next_id = 0

    def _record(self, conversation: str, activity: dict[str, Any]) -> str:
        self.count += 1
        self.next_id += 1
        self.times[conversation].append(time.monotonic())
        if self.keep:
            self.sent[conversation].append(activity)
        return f"activity-{self.next_id}"

    async def post(self, request: web.Request) -> web.Response:
        activity = json.loads(await request.read())
        return web.json_response({"id": self._record(request.match_info["conversation"], activity)})

    async def put(self, request: web.Request) -> web.Response:
        activity = json.loads(await request.read())
        self._record(request.match_info["conversation"], activity)
        return web.json_response({"id": request.match_info["activity"]})

    async def thread(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        channel = body["channelData"]["channel"]["id"]
        activity_id = self._record(channel, body["activity"])
        return web.json_response({"id": f"{channel};messageid={activity_id}", "activityId": activity_id})

    async def member(self, request: web.Request) -> web.Response:
        entry = self.roster.get(request.match_info["user"])
        if entry is None:
            return web.json_response({"error": {"code": "MemberNotFoundInConversation"}}, status=404)
        return web.json_response(entry)

    async def meet(self, request: web.Request) -> web.Response:
        for entry in await request.json():
            self.roster[entry["id"]] = entry
        return web.json_response({"ok": True})

    async def control(self, request: web.Request) -> web.Response:
        body = await request.json()
        if "keep" in body:
            self.keep = bool(body["keep"])
        if body.get("reset"):
            self.sent.clear()
            self.times.clear()
            self.count = 0
        return web.json_response({"ok": True})

    async def cards(self, request: web.Request) -> web.Response:
        return web.json_response(self.sent.get(request.match_info["conversation"], []))

    async def stats(self, request: web.Request) -> web.Response:
        """How many were sent, and the most any one conversation got within each window asked."""
        windows = [float(w) for w in request.query.get("windows", "1").split(",")]
        busiest: dict[str, int] = {}
        for window in windows:
            most = 0
            for stamps in self.times.values():
                start = 0
                for end, stamp in enumerate(stamps):
                    while stamp - stamps[start] >= window:
                        start += 1
                    most = max(most, end - start + 1)
            busiest[str(window)] = most
        return web.json_response({"count": self.count, "conversations": len(self.times), "busiest": busiest})

    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        route = app.router
        route.add_post("/v3/conversations/{conversation}/activities", self.post)
        route.add_post("/v3/conversations/{conversation}/activities/{activity}", self.post)
        route.add_put("/v3/conversations/{conversation}/activities/{activity}", self.put)
        route.add_post("/v3/conversations", self.thread)
        route.add_get("/v3/conversations/{conversation}/members/{user}", self.member)
        route.add_post("/_meet", self.meet)
        route.add_post("/_control", self.control)
        route.add_get("/_sent/{conversation}", self.cards)
        route.add_get("/_stats", self.stats)
        return app


def bare_app() -> web.Application:
    async def messages(request: web.Request) -> web.Response:
        json.loads(await request.read())
        return web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


def reply_app() -> web.Application:
    """The least any bot does for a message: read the activity, POST a reply to the Connector.

    No SDK, no authentication, no register: the ceiling for a bot in Python on this machine.
    """
    import aiohttp

    session: aiohttp.ClientSession | None = None

    async def messages(request: web.Request) -> web.Response:
        nonlocal session
        if session is None:
            session = aiohttp.ClientSession()
        activity = json.loads(await request.read())
        reply = {
            "type": "message",
            "text": f"Echo: {activity.get('text', '')}",
            "conversation": activity["conversation"],
            "from": activity["recipient"],
            "recipient": activity["from"],
            "replyToId": activity["id"],
        }
        base = activity["serviceUrl"].rstrip("/")
        url = f"{base}/v3/conversations/{activity['conversation']['id']}/activities/{activity['id']}"
        async with session.post(url, json=reply) as answer:
            await answer.read()
        return web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


def echo_app() -> web.Application:
    """Microsoft's echo sample as it stands, on CloudAdapter, unauthenticated as locally."""
    from types import SimpleNamespace

    from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    class EchoBot(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            await turn_context.send_activity(MessageFactory.text(f"Echo: {turn_context.activity.text}"))

    config = SimpleNamespace(APP_ID=None, APP_PASSWORD=None, APP_TYPE="MultiTenant", APP_TENANTID=None)
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(config))
    bot = EchoBot()

    async def messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


def _bot_settings() -> Any:
    """What `engagement-bot serve` does first: settings from the environment, then migrate."""
    from bot.config import load_settings
    from bot.logs import configure
    from storage.db import create_engine
    from storage.migrate import upgrade

    settings = load_settings()
    configure(settings.log_level)

    async def migrate() -> None:
        engine = create_engine(settings.database_url)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    return settings


def serve_bot() -> None:
    """This bot in one process, as `engagement-bot serve` runs it."""
    from bot.app import create_app
    from bot.loop import use_fastest

    use_fastest()
    asyncio.run(_serve(create_app(_bot_settings())))


async def main(kind: str) -> None:
    if kind == "connector":
        app = Connector().app()
    elif kind == "bare":
        app = bare_app()
    elif kind == "reply":
        app = reply_app()
    elif kind == "echo":
        app = echo_app()
    else:
        raise SystemExit(f"unknown server {kind!r}: connector, bare, reply, echo or bot")
    await _serve(app)


if __name__ == "__main__":
    if sys.argv[1:] == ["bot"]:
        serve_bot()
        sys.exit(0)
    if sys.argv[1:] == ["reply"]:  # on the loop `engagement-bot serve` chooses
        from bot.loop import use_fastest

        use_fastest()
    asyncio.run(main(sys.argv[1]))
