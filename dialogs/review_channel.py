"""Whether a channel may receive appeals: every member on the Complaints Review Group or a
register keeper, as Teams' roster says now.

An appeal card names a customer and what they did; anyone else in the channel would read it.
"""

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.turn import Actor, RosterMember, Services
from policy.roles import Role
from storage import audit
from storage.models import Person, RoleAssignment

MAY_SEE = (Role.COMPLAINTS_REVIEW_GROUP.value, Role.REGISTER_KEEPER.value)


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
