"""People, their roles, and how a Teams sender is matched to them."""

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from policy.roles import Role, RoleGrant, Roles
from storage.models import Person, RoleAssignment, ServiceArea


async def roles_for(session: AsyncSession, person_id: int) -> Roles:
    """The person's roles as the register holds them now: every permission check starts here."""
    rows = await session.execute(
        select(RoleAssignment.role, ServiceArea.key, ServiceArea.name)
        .outerjoin(ServiceArea, ServiceArea.id == RoleAssignment.service_area_id)
        .where(RoleAssignment.person_id == person_id)
    )
    return Roles.of(RoleGrant(Role(role), area, name) for role, area, name in rows.all())


async def get(session: AsyncSession, person_id: int) -> Person | None:
    return await session.get(Person, person_id)


async def find_by_teams_identity(
    session: AsyncSession, *, teams_user_id: str, aad_object_id: str | None
) -> Person | None:
    clauses = [Person.teams_user_id == teams_user_id]
    if aad_object_id and len(aad_object_id) <= 64:
        clauses.append(Person.aad_object_id == aad_object_id)
    rows = (await session.scalars(select(Person).where(or_(*clauses)))).all()
    # A match on the Teams id wins over one on the AAD object id.
    return next((p for p in rows if p.teams_user_id == teams_user_id), rows[0] if rows else None)


async def find_by_email(session: AsyncSession, email: str) -> Person | None:
    return await session.scalar(select(Person).where(Person.email == email.strip().lower()))


async def link_teams_identity(
    session: AsyncSession,
    *,
    teams_user_id: str,
    aad_object_id: str | None,
    name: str | None,
    email: str | None,
    now: datetime,
) -> Person:
    """The person this Teams user is, creating or completing their record.

    The roles file names people by email or AAD object id; Teams names them by its own user id.
    The first time a person talks to the bot the three are tied together here.
    """
    person = await find_by_teams_identity(session, teams_user_id=teams_user_id, aad_object_id=aad_object_id)
    if email and (person is None or not person.email):
        named = await find_by_email(session, email)
        if named is not None and person is not None and named.id != person.id:
            # Talked to the bot before the roles file named them: the named record takes over
            # the Teams identity so that their roles apply from now on.
            person.teams_user_id = None
            person.aad_object_id = None
            await session.flush()
        person = named or person
    if person is None:
        person = Person(created_at=now, updated_at=now)
        session.add(person)
    person.teams_user_id = teams_user_id
    if aad_object_id and len(aad_object_id) <= 64:
        person.aad_object_id = aad_object_id
    if email and not person.email and len(email) <= 320:
        person.email = email.strip().lower()
    if name and name.strip():
        person.display_name = " ".join(name.split())[:200]
    person.updated_at = now
    await session.flush()
    return person


async def with_role(session: AsyncSession, role: Role, *, service_area_id: int | None = None) -> list[Person]:
    query = (
        select(Person)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.role == role.value)
        .order_by(Person.id)
    )
    if service_area_id is not None:
        query = query.where(RoleAssignment.service_area_id == service_area_id)
    return list((await session.scalars(query)).unique().all())


async def service_areas(session: AsyncSession) -> list[ServiceArea]:
    return list((await session.scalars(select(ServiceArea).order_by(ServiceArea.name))).all())
