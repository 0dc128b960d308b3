"""Reaching people who never opened the bot: from the rosters of its teams, or through Graph.

Teams lets a bot message a person only where the app is installed for them or in a team they
belong to. A notification for someone with no saved 1:1 chat waits in the outbox; here the bot
looks for them in each team it is in and starts the chat itself (Teams allows that for a member
of a team the bot is in), or, with `GRAPH_INSTALL=on`, installs the app for them. The chat is
saved as theirs, which sends whatever waits for them.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ChannelAccount, ConversationAccount, ConversationReference
from botbuilder.schema.teams import TeamsChannelAccount
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.connector import DeliveryError, TeamsConnector
from bot.graph import GraphError, GraphInstaller
from dialogs.turn import Clock, RosterMember
from storage import conversations, people
from storage.conversations import Where

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # the most Teams gives in one page of a team's members


@dataclass(frozen=True)
class Member:
    """A team member as Teams' roster names them."""

    teams_id: str
    aad_object_id: str | None
    addresses: frozenset[str]  # mail and UPN, folded; empty for a guest


def _member(entry: TeamsChannelAccount) -> Member:
    guest = entry.user_role == "guest"
    found = (people.address(entry.email), people.address(entry.user_principal_name))
    return Member(entry.id, entry.aad_object_id, frozenset(a for a in found if a and not guest))


def matches(person: people.Unreached, member: Member) -> bool:
    """As arrivals are matched: by object id, or (never for a guest) by mail or UPN."""
    if person.aad_object_id and person.aad_object_id == member.aad_object_id:
        return True
    if person.guest:
        return False
    return bool({a for a in (person.email, person.upn) if a} & member.addresses)


class Reacher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        adapter: CloudAdapter,
        connector: TeamsConnector,
        clock: Clock,
        *,
        app_id: str = "",
        graph: GraphInstaller | None = None,
        reached: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._adapter = adapter
        self._connector = connector
        self._clock = clock
        self._app_id = app_id
        self._graph = graph
        self._reached = reached
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def kick(self) -> None:
        """The bot joined a team, or a notification is waiting: look now, not at the next interval."""
        self._wake.set()

    async def run_once(self) -> int:
        """Start a 1:1 chat with everyone who needs one and can be found; returns how many."""
        async with self._lock:  # a kick during a run waits for it, rather than doubling it
            async with self._sessions() as session:
                wanted = await people.unreachable(session)
                teams = await conversations.teams(session) if wanted else []
            reached = await self._from_teams(wanted, teams)
            left = [p for p in wanted if p.person_id not in reached]
            if left and self._graph is not None:
                reached |= await self._through_graph(left)
        if reached:
            log.info("personal chats started", extra={"count": len(reached)})
            self._reached()
        return len(reached)

    async def run_forever(self, interval: float, *, least: float = 60.0) -> None:
        """Look every `interval` seconds, and when kicked, but at most once in `least`: each look
        reads every team's roster, and each notification held for want of a chat kicks it."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("reach sweep failed")
            self._wake.clear()
            await asyncio.sleep(min(least, interval))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, interval - least))

    # --- from the teams' rosters ----------------------------------------------------------------

    async def _from_teams(
        self, wanted: Sequence[people.Unreached], teams: Sequence[conversations.Team]
    ) -> set[int]:
        reached: set[int] = set()
        for team in teams:
            left = [p for p in wanted if p.person_id not in reached]
            if not left:
                break
            try:
                members = await self.members(team)
            except Exception as error:  # removed from the team, or Teams down: the next team
                log.warning("team roster unavailable", extra={"error": type(error).__name__})
                continue
            for person in left:
                member = next((m for m in members if matches(person, m)), None)
                if member is not None and await self._start(team, person, member):
                    reached.add(person.person_id)
        return reached

    async def channel_members(self, channel_id: str) -> list[RosterMember] | None:
        """A standard channel's members (its team's), or None when Teams cannot say."""
        async with self._sessions() as session:
            team = await conversations.team_of_channel(session, channel_id)
        if team is None:
            return None
        try:
            members = await self.members(team)
        except Exception as error:  # removed from the team, or Teams down: not shown to be private
            log.warning("channel roster unavailable", extra={"error": type(error).__name__})
            return None
        return [RosterMember(m.teams_id, m.aad_object_id, m.addresses) for m in members]

    async def members(self, team: conversations.Team) -> list[Member]:
        """Every member of the team, page by page, through the SDK's TeamsInfo."""
        reference = ConversationReference(
            channel_id="msteams",
            service_url=team.service_url,
            bot=ChannelAccount(id=team.bot_id),
            conversation=ConversationAccount(id=team.team_id, tenant_id=team.tenant_id, is_group=True),
        )
        found: list[Member] = []
        failure: list[BaseException] = []

        async def page_through(turn_context: TurnContext) -> None:
            token: str | None = None
            try:
                while True:
                    page = await TeamsInfo.get_paged_team_members(
                        turn_context, team.team_id, token, PAGE_SIZE
                    )
                    found.extend(_member(m) for m in page.members or [])
                    token = page.continuation_token
                    if not token:
                        return
            except Exception as error:  # raised again outside: the SDK would only log it
                failure.append(error)

        await self._adapter.continue_conversation(reference, page_through, self._app_id or None)
        if failure:
            raise failure[0]
        return found

    async def _start(self, team: conversations.Team, person: people.Unreached, member: Member) -> bool:
        try:
            chat = await self._connector.start_personal(
                team.service_url, bot_id=team.bot_id, member_id=member.teams_id, tenant_id=team.tenant_id
            )
        except DeliveryError as error:
            log.warning("personal chat not started", extra={"person": person.person_id, "error": str(error)})
            return False
        where = Where(
            "personal", chat, team.service_url, team.bot_id, team.tenant_id, user_id=member.teams_id
        )
        return await self._save(where, person.person_id)

    # --- through Microsoft Graph ----------------------------------------------------------------

    async def _through_graph(self, left: Sequence[people.Unreached]) -> set[int]:
        assert self._graph is not None
        async with self._sessions() as session:
            region = await conversations.any_service_url(session)
        if region is None:
            return set()  # no conversation yet tells which Teams region serves this tenant
        service_url, bot_id, tenant_id = region
        reached: set[int] = set()
        for person in left:
            # A guest is named by object id alone, as the roles file names them.
            user = person.aad_object_id or (None if person.guest else person.upn or person.email)
            if user is None:
                continue
            try:
                chat = await self._graph.chat_for(user)
            except GraphError as error:
                log.warning("app not installed", extra={"person": person.person_id, "error": str(error)})
                continue
            where = Where("personal", chat, service_url, bot_id, tenant_id)
            if await self._save(where, person.person_id):
                reached.add(person.person_id)
        return reached

    async def _save(self, where: Where, person_id: int) -> bool:
        try:
            async with self._sessions() as session:
                await conversations.save(session, where, person_id=person_id, now=self._clock())
                await session.commit()
        except IntegrityError:
            return True  # another instance saved the same chat at the same moment
        return True
