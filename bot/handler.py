"""The activity handler: who is talking, where to reach them again, and which dialog answers."""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from botbuilder.core import ActivityHandler, BotAdapter, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount
from botbuilder.schema.teams import TeamsChannelAccount
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot import invokes, teams
from bot.ratelimit import SLOWED, RateLimiter
from bot.wire import OutgoingActivity
from dialogs import commands, identity
from dialogs.turn import Actor, Reply, Services
from storage import conversations, people
from storage.conversations import Where

log = logging.getLogger(__name__)

UNREACHABLE = (
    "I could not reach the register just now, so nothing was saved. Please try again in a minute; "
    "a report in progress is kept, and typing report opens it again."
)


def _unchanged(candidates: list[people.Known], sender: ChannelAccount, where: Where) -> people.Known | None:
    """The sender, if recording their arrival would write exactly what the register already holds.

    Anything new (another record matching their AAD id, nothing yet from Teams' roster, a changed
    name, a new conversation or service URL) takes the full path, which writes it.
    """
    if len(candidates) != 1 or candidates[0].teams_user_id != sender.id:
        return None
    known = candidates[0]
    aad = sender.aad_object_id
    if not known.in_directory or (aad and len(aad) <= 64 and known.aad_object_id != aad):
        return None
    name = people.display_name_of(sender.name)
    if name is not None and name != known.display_name:
        return None
    if not conversations.is_current(known.reference, known.reference_person_id, where, known.person_id):
        return None
    if where.conversation_type == "personal" and not known.reference_is_latest:
        return None  # their latest chat is where notifications go: this one becomes it
    return known


@dataclass(frozen=True)
class Arrival:
    actor: Actor
    first_contact: bool  # the bot had no way to reach this person before this turn


class NotBound(Exception):
    """The sender's identity conflicts with the register's: the turn is answered with `words`."""

    def __init__(self, words: str) -> None:
        super().__init__(words)
        self.words = words


class EngagementBot(ActivityHandler):
    def __init__(
        self,
        services: Services,
        *,
        tenant_id: str | None = None,
        rate_limit_per_minute: int = 0,
        joined_team: Callable[[], None] = lambda: None,
    ) -> None:
        self._services = services
        self._joined_team = joined_team  # look in the team's roster for people to reach
        self._tenant_id = tenant_id or None
        self.rate_limiter = RateLimiter(rate_limit_per_minute)

    def _slowed(self, turn_context: TurnContext) -> bool:
        """True when this person has used up their turns: checked before any database work, so a
        flood costs the register nothing."""
        if self.rate_limiter.allow(turn_context.activity.from_property.id):
            return False
        log.warning("turn slowed", extra={"type": turn_context.activity.type})
        return True

    async def _refuse_invoke(self, turn_context: TurnContext) -> None:
        if turn_context.activity.type == ActivityTypes.invoke:
            # Unanswered, the SDK would say 501: this is a refusal, not a missing feature.
            await turn_context.send_activity(
                Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=403))
            )

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not teams.from_teams(activity.channel_id):
            # `messages` refuses these first; any other way in is refused here too.
            log.warning("activity not from Teams ignored", extra={"type": activity.type})
            await self._refuse_invoke(turn_context)
            return
        if self._tenant_id and teams.tenant_id(activity) != self._tenant_id:
            # A multi-tenant app id can be installed elsewhere; this register is one council's.
            log.warning("activity from another tenant ignored", extra={"type": activity.type})
            await self._refuse_invoke(turn_context)
            return
        if activity.type == ActivityTypes.invoke:
            # As the SDK's handler answers an invoke, but without its deep copy of the answer (a
            # whole card, for a decision a twentieth of the turn): nothing changes it once made.
            response = await self.on_invoke_activity(turn_context)
            await turn_context.send_activity(
                OutgoingActivity(type=ActivityTypes.invoke_response, value=response)
            )
            return
        await super().on_turn(turn_context)

    # --- who is acting ------------------------------------------------------------------------

    async def _directory_of(self, turn_context: TurnContext) -> people.Directory | None:
        """Ask Teams' roster who the sender is (object id, UPN, mail, guest): activities never say."""
        activity = turn_context.activity
        client = turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
        try:
            # Invokes must be answered within five seconds: the roster gets a fraction of that.
            member = await asyncio.wait_for(
                client.conversations.get_conversation_member(
                    teams.roster_conversation_id(activity), activity.from_property.id
                ),
                timeout=2,
            )
        except Exception as error:  # a missing roster entry must not stop the turn
            log.info("roster lookup failed", extra={"error": type(error).__name__})
            return None
        # Teams' own fields (userPrincipalName, userRole, ...) arrive as additional properties.
        fields = {**member.serialize(), **(member.additional_properties or {})}
        entry = TeamsChannelAccount().deserialize(fields)
        return people.Directory(
            aad_object_id=entry.aad_object_id,
            upn=entry.user_principal_name,
            email=entry.email,
            guest=entry.user_role == "guest",
        )

    async def _arrive(self, turn_context: TurnContext) -> Arrival:
        activity = turn_context.activity
        sender: ChannelAccount = activity.from_property
        where = teams.where(activity)
        async with self._services.reading() as session:
            candidates = await people.known_sender(
                session,
                teams_user_id=sender.id,
                aad_object_id=sender.aad_object_id,
                conversation_id=where.conversation_id,
            )
        current = _unchanged(candidates, sender, where)
        if current is not None:
            # Nothing to record: the roles just read are the actor's, and the turn writes nothing.
            return Arrival(
                Actor(
                    current.person_id,
                    current.display_name,
                    current.roles,
                    channel_id=where.channel_id,
                    shared=where.conversation_type != "personal",
                ),
                first_contact=False,
            )
        # As `people.find_by_teams_identity` chooses: a match on the Teams id wins.
        known = next((k for k in candidates if k.teams_user_id == sender.id), None) or (
            candidates[0] if candidates else None
        )
        # The roster is asked outside any transaction: it is a call to Teams.
        asks_roster = known is None or not known.in_directory
        directory = await self._directory_of(turn_context) if asks_roster else None
        # Teams sends installationUpdate and conversationUpdate together on install: both may try
        # to create the same person or conversation, and the loser simply reads what won.
        for attempt in (1, 2):
            try:
                return await self._record_arrival(turn_context, directory)
            except IntegrityError:
                if attempt == 2:
                    raise
            except people.IdentityConflict as conflict:
                # Never re-bound silently: no roles, no conversation saved, keepers told.
                log.warning("identity refused", extra={"type": activity.type, "why": conflict.reason})
                words = await identity.refuse(
                    self._services,
                    conflict,
                    teams_user_id=sender.id,
                    aad_object_id=sender.aad_object_id or (directory.aad_object_id if directory else None),
                )
                raise NotBound(words) from None
        raise AssertionError("unreachable")

    async def _record_arrival(self, turn_context: TurnContext, directory: people.Directory | None) -> Arrival:
        activity = turn_context.activity
        sender: ChannelAccount = activity.from_property
        now = self._services.clock()
        async with self._services.sessions() as session:
            person = await people.link_teams_identity(
                session,
                teams_user_id=sender.id,
                aad_object_id=sender.aad_object_id,
                name=sender.name,
                directory=directory,
                now=now,
            )
            _, created = await conversations.save(
                session, teams.where(activity), person_id=person.id, now=now
            )
            actor = Actor(
                person.id,
                person.display_name,
                await people.roles_for(session, person.id),
                channel_id=teams.where(activity).channel_id,
                shared=teams.conversation_type(activity) != "personal",
            )
            await session.commit()
        if created:
            self._services.outbox_written()
        return Arrival(actor, created and teams.conversation_type(activity) == "personal")

    async def _send(self, turn_context: TurnContext, replies: list[Reply]) -> None:
        for reply in replies:
            await turn_context.send_activity(teams.to_activity(reply))

    # --- activities ---------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        if self._slowed(turn_context):
            await turn_context.send_activity(SLOWED)
            return
        typed = teams.typed_text(turn_context)
        replies: list[Reply] = []
        try:
            arrival = await self._arrive(turn_context)
            if arrival.first_contact:
                replies.append(commands.welcome(arrival.actor))
            if not arrival.first_contact or (typed and not commands.is_greeting(typed)):
                replies += await commands.dispatch(self._services, arrival.actor, typed)
        except NotBound as refused:
            replies = [Reply(text=refused.words)]
        except (DBAPIError, OSError) as error:
            # As for an invoke: nothing was half-written, and the person is told what to do.
            log.error("register unreachable", extra={"type": "message", "error": type(error).__name__})
            await turn_context.send_activity(UNREACHABLE)
            return
        await self._send(turn_context, replies)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if self._slowed(turn_context):
            return invokes.message(activity.name or "", SLOWED)
        try:
            arrival = await self._arrive(turn_context)
            return await invokes.handle(self._services, arrival.actor, activity.name or "", activity.value)
        except NotBound as refused:
            return invokes.message(activity.name or "", refused.words)
        except (DBAPIError, OSError) as error:
            # Each transaction commits whole or not at all, so a lost connection leaves nothing
            # half-written; the pool opens a new one for the next turn.
            log.error("register unreachable", extra={"type": activity.type, "error": type(error).__name__})
            return invokes.message(activity.name or "", UNREACHABLE)

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        added = activity.members_added or []
        if any(m.id == activity.recipient.id for m in added):
            await self._installed(turn_context)
        elif added and teams.where(activity).team_id:
            self._joined_team()  # someone joined a team the bot is in: they may be waited for

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._installed(turn_context)

    async def _installed(self, turn_context: TurnContext) -> None:
        try:
            arrival = await self._arrive(turn_context)
        except NotBound as refused:
            await self._send(turn_context, [Reply(text=refused.words)])
            return
        if teams.where(turn_context.activity).team_id:
            self._joined_team()
        log.info(
            "bot installed",
            extra={"scope": teams.conversation_type(turn_context.activity)},
        )
        if arrival.first_contact:
            await self._send(turn_context, [commands.welcome(arrival.actor)])
