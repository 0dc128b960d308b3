"""Whether a channel may receive appeals: every member on the Complaints Review Group or a
register keeper, as Teams' roster says now.

An appeal card names a customer and what they did; anyone else in the channel would read it.
The roster is read when the channel is set and again (`ChannelGuard`) before each such card is
posted there: a team can gain members at any time.
"""

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cards.elements import card, heading, text
from dialogs.notify import card_message, tell_keepers
from dialogs.turn import Actor, RosterMember, Services
from policy.roles import Role
from storage import audit, outbox, people
from storage.models import CouncilSetting, OutboxMessage, Person, RoleAssignment

MAY_SEE = (Role.COMPLAINTS_REVIEW_GROUP.value, Role.REGISTER_KEEPER.value)
# A council setting naming the channel appeals stopped going to, until a keeper sets one again.
DISTRUSTED = "crg_channel_distrusted"
# The withheld channel message's error: fixed words, naming no one (keepers read it in `undelivered`).
WITHHELD = (
    "withheld: the channel's team has members who are not on the Complaints Review Group, or "
    "Teams would not say who they are; sent to the group's members' chats instead"
)
UNTRUSTED_NOTICE = (
    "The review group's channel has members who are not on the group; appeals go to members' "
    "chats until it is set again."
)


async def _allowed(session: AsyncSession, member: RosterMember) -> bool:
    """As arrivals are matched: by Teams id, object id, or (never for a guest) mail or UPN."""
    names = [Person.teams_user_id == member.teams_id]
    if member.aad_object_id:
        names.append(Person.aad_object_id == member.aad_object_id)
    if member.addresses:
        names += [Person.email.in_(member.addresses), Person.upn.in_(member.addresses)]
    found = await session.scalar(
        select(RoleAssignment.id)
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(or_(*names), RoleAssignment.role.in_(MAY_SEE))
        .limit(1)
    )
    return found is not None


async def outsiders(services: Services, channel_id: str) -> int | None:
    """How many of the channel's members may not see appeals; None when Teams cannot say (then
    the channel is not trusted either). The roster is asked outside any transaction."""
    if services.channel_roster is None:
        return None
    members = await services.channel_roster(channel_id)
    if not members:
        return None
    async with services.reading() as session:
        return [await _allowed(session, m) for m in members].count(False)


async def refusal(services: Services, actor: Actor, channel_id: str) -> str | None:
    """Why appeals may not be posted in this channel, audited; None when they may."""
    found = await outsiders(services, channel_id)
    if found == 0:
        return None
    async with services.sessions() as session:
        await audit.record(
            session,
            now=services.clock(),
            actor_id=actor.person_id,
            action="appeals.channel_refused",
            record_type="setting",
            record_id="crg_channel",
            detail={"outsiders": found} if found is not None else {"roster": "unavailable"},
        )
        await session.commit()
    if found is None:
        return (
            "I could not read this channel's members from Teams, so it is not set: appeals name "
            "customers, and go only where everyone may read them. Try again in a minute."
        )
    return (
        f"Not set: {found} of this channel's members {'is' if found == 1 else 'are'} neither on the "
        "Complaints Review Group nor a register keeper, and appeals name customers. Use a "
        "channel of a team only they are in."
    )


class ChannelGuard:
    """Read a channel's roster again just before a card for the review group's eyes is posted
    there (the sender's `guard`). A channel that fails, or whose roster Teams will not give, gets
    nothing more until a keeper sets it again: the card goes to each group member's 1:1 chat."""

    def __init__(
        self, services: Services, purposes: Collection[str], *, kept: timedelta = timedelta(seconds=60)
    ) -> None:
        self._services = services
        self._purposes = frozenset(purposes)
        self._kept = kept  # a passing roster is trusted this long: a burst reads it once
        self._passed: dict[str, datetime] = {}

    async def __call__(self, claim: outbox.Claim) -> str | None:
        channel = claim.channel_id
        if channel is None or claim.purpose not in self._purposes:
            return None
        now = self._services.clock()
        passed_until = self._passed.get(channel)
        if passed_until is not None and now < passed_until:
            return None
        why = await _why_not(self._services, channel)
        if why is None:
            self._passed[channel] = now + self._kept
            return None
        self._passed.pop(channel, None)
        await _divert(self._services, claim, why)
        return WITHHELD


async def _why_not(services: Services, channel_id: str) -> dict[str, int | str] | None:
    """None when the channel may be posted in; otherwise why not, in the audit's fixed words."""
    async with services.reading() as session:
        distrusted = await session.get(CouncilSetting, DISTRUSTED)
    if distrusted is not None and distrusted.value == channel_id:
        return {"channel": "distrusted"}  # until set again, however its roster reads now
    found = await outsiders(services, channel_id)
    if found == 0:
        return None
    return {"outsiders": found} if found is not None else {"roster": "unavailable"}


async def _divert(services: Services, claim: outbox.Claim, why: dict[str, int | str]) -> None:
    """In one transaction: the card to each group member's chat, the channel distrusted (the
    keepers told the first time), and an audit event of ids and fixed words."""
    now = services.clock()
    async with services.sessions() as session:
        withheld = await outbox.get(session, claim.id)
        members = await people.with_role(session, Role.COMPLAINTS_REVIEW_GROUP)
        keys = {m.id: f"diverted:{claim.id}:{m.id}" for m in members}
        # Sent already if a sender died before marking the channel message: not twice.
        taken = set(
            await session.scalars(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(list(keys.values())))
            )
        )
        copies = [
            outbox.Queued(
                outbox.Recipient(person_id=person_id),
                claim.activity,
                claim.purpose,  # as the channel's would have been: outcomes update these copies
                record_type=withheld.record_type if withheld else None,
                record_id=withheld.record_id if withheld else None,
                dedupe_key=key,
            )
            for person_id, key in keys.items()
            if key not in taken
        ]
        await outbox.enqueue_all(session, copies, now=now)
        if await _distrust(session, claim.channel_id or "", now):
            await _tell_keepers(session, claim.id, now)
        await audit.record(
            session,
            now=now,
            actor_id=None,
            action="appeals.channel_withheld",
            record_type="outbox",
            record_id=claim.id,
            detail={**why, "members": len(members)},
        )
        await session.commit()
    services.outbox_written()


async def _distrust(session: AsyncSession, channel_id: str, now: datetime) -> bool:
    """Mark the channel as not to be posted in; True if it was not marked already."""
    setting = await session.get(CouncilSetting, DISTRUSTED)
    if setting is not None and setting.value == channel_id:
        return False
    if setting is None:
        session.add(CouncilSetting(key=DISTRUSTED, value=channel_id, changed_by_id=None, changed_at=now))
    else:
        setting.value, setting.changed_by_id, setting.changed_at = channel_id, None, now
    return True


async def trust_again(session: AsyncSession) -> None:
    """A keeper set the channel, its roster checked: appeals may go to a channel again."""
    await session.execute(delete(CouncilSetting).where(CouncilSetting.key == DISTRUSTED))


async def _tell_keepers(session: AsyncSession, outbox_id: int, now: datetime) -> None:
    notice = card(
        [
            heading("Appeals are not going to the review group's channel", size="Medium", color="Attention"),
            text(UNTRUSTED_NOTICE),
            text(
                "Once only the group and register keepers are in its team, run **set review group "
                "channel** in it, @mentioning me.",
                subtle=True,
            ),
        ]
    )
    message = card_message(notice, summary="The review group's channel is not private")
    await tell_keepers(
        session,
        message,
        purpose="appeals.channel_untrusted",
        now=now,
        record_type="setting",
        record_id=DISTRUSTED,
        dedupe=f"untrusted:{outbox_id}",
    )
