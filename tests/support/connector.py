"""A stand-in for Teams' Bot Connector service, on loopback, that records what the bot sends."""

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from cards.elements import MESSAGE_LIMIT_UTF16, base64_images
from tests.support import card_check


@dataclass
class Sent:
    method: str
    conversation_id: str
    activity: dict[str, Any]
    activity_id: str | None = None  # for updates and replies: the activity addressed
    authorization: str | None = None

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [
            a["content"]
            for a in self.activity.get("attachments") or []
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]

    @property
    def card(self) -> dict[str, Any]:
        (only,) = self.cards
        return only

    @property
    def text(self) -> str:
        return self.activity.get("text") or ""


@dataclass
class Fault:
    status: int
    times: int
    retry_after: str | None = None


# As Teams answers a bot that messages someone it is not installed for and shares no team with.
NOT_IN_ROSTER = {
    "error": {
        "code": "BotNotInConversationRoster",
        "message": "The bot is not part of the conversation roster.",
    }
}


@dataclass
class RecordingConnector:
    """Teams' Bot Connector as it treats a bot: it may message a person only where the app is
    installed for them (`installed`, their Teams ids) or in a team they belong to (`teams`:
    team id to its members' Teams ids); anyone else's 1:1 chat (`chats`: Teams id to chat id)
    answers 403, and so does starting one."""

    sent: list[Sent] = field(default_factory=list)
    roster: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    refused: int = 0
    installed: set[str] = field(default_factory=set)
    teams: dict[str, list[str]] = field(default_factory=dict)
    chats: dict[str, str] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)  # Teams ids of the 1:1 chats the bot started
    roster_reads: list[str] = field(default_factory=list)  # team ids, a page of members each

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("/")).rstrip("/") + "/"

    def fail(self, status: int, times: int, retry_after: str | None = None) -> None:
        self.faults.append(Fault(status, times, retry_after))

    def to(self, conversation_id: str) -> list[Sent]:
        return [s for s in self.sent if s.conversation_id == conversation_id]

    def clear(self) -> None:
        self.sent.clear()

    def install(self, teams_id: str) -> None:
        self.installed.add(teams_id)

    def uninstall(self, teams_id: str) -> None:
        self.installed.discard(teams_id)

    def may_reach(self, teams_id: str) -> bool:
        return teams_id in self.installed or any(teams_id in members for members in self.teams.values())

    def _blocked(self, conversation_id: str) -> web.Response | None:
        """403 for a person's 1:1 chat where the bot may not reach them."""
        owner = next((t for t, chat in self.chats.items() if chat == conversation_id), None)
        if owner is None or self.may_reach(owner):
            return None
        self.refused += 1
        return web.json_response(NOT_IN_ROSTER, status=403)

    def _fault(self) -> web.Response | None:
        while self.faults and self.faults[0].times <= 0:
            self.faults.pop(0)
        if not self.faults:
            return None
        fault = self.faults[0]
        fault.times -= 1
        self.refused += 1
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        return web.json_response({"error": {"code": "Throttled"}}, status=fault.status, headers=headers)

    async def _too_large(self, request: web.Request) -> web.Response | None:
        """Teams refuses a message over its size limit, counted as UTF-16 without Base64 images."""
        body = await request.json()
        images = sum(len(image) for image in base64_images(body))
        if len((await request.text()).encode("utf-16-le")) - 2 * images <= MESSAGE_LIMIT_UTF16:
            return None
        self.refused += 1
        return web.json_response({"error": {"code": "MessageSizeTooBig"}}, status=413)

    async def _post(self, request: web.Request) -> web.Response:
        conversation_id = request.match_info["conversation_id"]
        failure = self._fault() or self._blocked(conversation_id) or await self._too_large(request)
        if failure is not None:
            return failure
        activity_id = f"activity-{next(self._ids)}"
        body = await request.json()
        card_check.seen("message sent", body)
        self.sent.append(
            Sent(
                "POST",
                request.match_info["conversation_id"],
                body,
                request.match_info.get("activity_id"),
                request.headers.get("Authorization"),
            )
        )
        return web.json_response({"id": activity_id})

    async def _put(self, request: web.Request) -> web.Response:
        conversation_id = request.match_info["conversation_id"]
        failure = self._fault() or self._blocked(conversation_id) or await self._too_large(request)
        if failure is not None:
            return failure
        body = await request.json()
        card_check.seen("message updated", body)
        self.sent.append(
            Sent(
                "PUT",
                request.match_info["conversation_id"],
                body,
                request.match_info["activity_id"],
                request.headers.get("Authorization"),
            )
        )
        return web.json_response({"id": request.match_info["activity_id"]})

    async def _create(self, request: web.Request) -> web.Response:
        """A new thread in a channel: Teams answers with the thread's conversation id."""
        failure = self._fault() or await self._too_large(request)
        if failure is not None:
            return failure
        body = await request.json()
        if body.get("isGroup") is False:
            return self._personal(body)
        card_check.seen("thread started", body)
        channel = body["channelData"]["channel"]["id"]
        activity_id = f"activity-{next(self._ids)}"
        self.sent.append(
            Sent("THREAD", channel, body["activity"], None, request.headers.get("Authorization"))
        )
        return web.json_response({"id": f"{channel};messageid={activity_id}", "activityId": activity_id})

    def _personal(self, body: dict[str, Any]) -> web.Response:
        """A 1:1 chat the bot starts: Teams answers with the one chat it keeps for the pair."""
        ((member,),) = [body["members"]]
        assert body["bot"]["id"] and body["tenantId"] == body["channelData"]["tenant"]["id"]
        if not self.may_reach(member["id"]):
            self.refused += 1
            return web.json_response(NOT_IN_ROSTER, status=403)
        self.started.append(member["id"])
        return web.json_response({"id": self.chats.get(member["id"], f"a:{member['id']}personal")})

    async def _paged_members(self, request: web.Request) -> web.Response:
        """A team's members, a page at a time, as Teams pages them (a continuation token)."""
        self.roster_reads.append(request.match_info["conversation_id"])
        members = self.teams.get(request.match_info["conversation_id"])
        if members is None:
            return web.json_response({"error": {"code": "ConversationNotFound"}}, status=404)
        size = int(request.query.get("pageSize", "500"))
        start = int(request.query.get("continuationToken", "0"))
        page = [self.roster[m] for m in members[start : start + size] if m in self.roster]
        more = start + size < len(members)
        return web.json_response({"members": page, "continuationToken": str(start + size) if more else None})

    async def _member(self, request: web.Request) -> web.Response:
        if ";messageid=" in request.match_info["conversation_id"]:
            # As Teams answers: a channel thread's id is no conversation the roster knows.
            return web.json_response({"error": {"code": "ConversationNotFound"}}, status=404)
        member = self.roster.get(request.match_info["user_id"])
        if member is None:
            return web.json_response({"error": {"code": "MemberNotFoundInConversation"}}, status=404)
        return web.json_response(member)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation_id}/activities", self._post)
        app.router.add_post("/v3/conversations/{conversation_id}/activities/{activity_id}", self._post)
        app.router.add_put("/v3/conversations/{conversation_id}/activities/{activity_id}", self._put)
        app.router.add_get("/v3/conversations/{conversation_id}/members/{user_id}", self._member)
        app.router.add_get("/v3/conversations/{conversation_id}/pagedmembers", self._paged_members)
        app.router.add_post("/v3/conversations", self._create)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.close()
