"""People, their roles, and how a Teams sender is matched to them."""

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import String, and_, bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from policy.roles import Role, RoleGrant, Roles
from storage import audit
from storage.conversations import Where
from storage.models import ConversationRef, OutboxMessage, Person, RoleAssignment, ServiceArea


async def roles_for(session: AsyncSession, person_id: int) -> Roles:
    """The person's roles as the register holds them now: every permission check starts here."""
    rows = await session.execute(
        select(RoleAssignment.role, ServiceArea.key, ServiceArea.name)
        .outerjoin(ServiceArea, ServiceArea.id == RoleAssignment.service_area_id)
        .where(RoleAssignment.person_id == person_id)
    )
    return Roles.of(RoleGrant(Role(role), area, name) for role, area, name in rows.all())


@dataclass(frozen=True)
class Known:
    """A Teams sender as the register holds them now, with where it last saved their conversation."""

    person_id: int
    teams_user_id: str | None
    aad_object_id: str | None
    email: str | None
    display_name: str | None
    roles: Roles
    reference: Where | None  # the saved reference of the conversation they spoke in, if any
    reference_person_id: int | None
    reference_is_latest: bool  # no personal conversation of theirs was saved more recently
    upn: str | None = None
    guest: bool = False

    @property
    def in_directory(self) -> bool:
        """Teams' roster has told the register who they are: their UPN, or that they are a guest."""
        return self.guest or self.upn is not None


def display_name_of(name: str | None) -> str | None:
    """A Teams display name as the register stores it: spaces folded, bounded."""
    return " ".join(name.split())[:200] if name and name.strip() else None


_ref = aliased(ConversationRef)
_newer = aliased(ConversationRef)
# Built once: a statement object reused across turns keeps SQLAlchemy's compiled form and cache key.
_KNOWN = (
    select(
        Person.id,
        Person.teams_user_id,
        Person.aad_object_id,
        Person.email,
        Person.display_name,
        RoleAssignment.role,
        ServiceArea.key,
        ServiceArea.name,
        _ref.kind,
        _ref.service_url,
        _ref.bot_id,
        _ref.tenant_id,
        _ref.user_id,
        _ref.channel_id,
        _ref.team_id,
        _ref.person_id,
        ~exists().where(
            _newer.person_id == Person.id, _newer.kind == "personal", _newer.updated_at > _ref.updated_at
        ),
        Person.upn,
        Person.guest,
    )
    .outerjoin(RoleAssignment, RoleAssignment.person_id == Person.id)
    .outerjoin(ServiceArea, ServiceArea.id == RoleAssignment.service_area_id)
    .outerjoin(_ref, _ref.conversation_id == bindparam("conversation_id", type_=String))
    .where(
        or_(
            Person.teams_user_id == bindparam("teams_user_id"),
            and_(
                bindparam("aad_object_id", type_=String).is_not(None),
                Person.aad_object_id == bindparam("aad_object_id", type_=String),
            ),
        )
    )
)


async def known_sender(
    session: AsyncSession, *, teams_user_id: str, aad_object_id: str | None, conversation_id: str
) -> list[Known]:
    """Everyone this sender could be, each with their roles and the conversation's saved reference.

    One round trip answers the questions every turn asks; usually it is one person with nothing
    to update, and then the turn writes nothing.
    """
    aad = aad_object_id if aad_object_id and len(aad_object_id) <= 64 else None
    rows = await session.execute(
        _KNOWN, {"teams_user_id": teams_user_id, "aad_object_id": aad, "conversation_id": conversation_id}
    )
    found: dict[int, Known] = {}
    grants: dict[int, list[RoleGrant]] = {}
    for row in rows:
        person_id = row[0]
        if person_id not in found:
            reference = None
            if row[8] is not None:
                reference = Where(
                    conversation_type=row[8],
                    conversation_id=conversation_id,
                    service_url=row[9],
                    bot_id=row[10],
                    tenant_id=row[11],
                    user_id=row[12],
                    channel_id=row[13],
                    team_id=row[14],
                )
            found[person_id] = Known(
                person_id,
                row[1],
                row[2],
                row[3],
                row[4],
                Roles(),
                reference,
                row[15],
                bool(row[16]),
                upn=row[17],
                guest=bool(row[18]),
            )
            grants[person_id] = []
        if row[5] is not None:
            grants[person_id].append(RoleGrant(Role(row[5]), row[6], row[7]))
    return [replace(known, roles=Roles.of(grants[person_id])) for person_id, known in found.items()]


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


def address(value: str | None) -> str | None:
    """A mail or UPN as the register stores it: trimmed, lower case, bounded."""
    folded = value.strip().lower() if value else ""
    return folded if folded and len(folded) <= 320 else None


async def find_by_email(session: AsyncSession, email: str) -> Person | None:
    """The person with this mail or UPN: the roles file and the command line may name either."""
    folded = address(email)
    if folded is None:
        return None
    rows = await session.scalars(
        select(Person).where(or_(Person.email == folded, Person.upn == folded)).order_by(Person.id)
    )
    return rows.first()


@dataclass(frozen=True)
class Directory:
    """What Teams' roster says about a sender; activities carry none of it."""

    aad_object_id: str | None
    upn: str | None
    email: str | None
    guest: bool  # userRole "guest": an account of another organisation, invited in

    @property
    def addresses(self) -> list[str]:
        found = (address(self.email), address(self.upn))
        return list(dict.fromkeys(a for a in found if a))


async def _named_by(session: AsyncSession, addresses: list[str]) -> list[Person]:
    if not addresses:
        return []
    query = select(Person).where(or_(Person.email.in_(addresses), Person.upn.in_(addresses)))
    return list((await session.scalars(query.order_by(Person.id))).all())


async def _absorb(session: AsyncSession, survivor: Person, absorbed: Person, now: datetime) -> None:
    """Fold a second record of the same person into the survivor.

    The roles file may name one person twice (object id, UPN, mail) before Teams tied the names
    together: their roles and waiting notifications follow them to one record, and the names
    move with them so that the next import finds that record.
    """
    held = {(a.role, a.service_area_id) for a in await _assignments(session, survivor.id)}
    for assignment in await _assignments(session, absorbed.id):
        if (assignment.role, assignment.service_area_id) in held:
            await session.delete(assignment)
        else:
            assignment.person_id = survivor.id
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.person_id == absorbed.id, OutboxMessage.status == "pending")
        .values(person_id=survivor.id)
    )
    aad = survivor.aad_object_id or absorbed.aad_object_id
    absorbed.teams_user_id = absorbed.aad_object_id = absorbed.email = absorbed.upn = None
    absorbed.updated_at = now
    await session.flush()  # each name is unique: freed before the survivor takes it
    survivor.aad_object_id = aad
    await audit.record(
        session,
        now=now,
        actor_id=None,
        action="person.merged",
        record_type="person",
        record_id=survivor.id,
        detail={"from": absorbed.id},
    )


async def _assignments(session: AsyncSession, person_id: int) -> list[RoleAssignment]:
    rows = await session.scalars(select(RoleAssignment).where(RoleAssignment.person_id == person_id))
    return list(rows.all())


class IdentityConflict(Exception):
    """The sender's names point at a record already bound to another Teams identity.

    A person is their tenant and Entra object id; the Teams id bound to them once is theirs.
    Moving either silently would hand one person's roles and record to another account.
    """

    def __init__(self, reason: str, person_ids: Collection[int]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.person_ids = sorted(set(person_ids))


SECOND_TEAMS_ID = "second_teams_id"  # the object id's record has another Teams id
OTHER_OBJECT_ID = "other_object_id"  # the Teams id's record has another object id
ADDRESS_OF_ANOTHER = "address_of_another"  # the roster's mail or UPN names someone else's record


def _bound_elsewhere(person: Person, teams_user_id: str, aad: str | None) -> bool:
    """Whether this record is tied to a Teams id or object id other than the sender's."""
    other_teams = person.teams_user_id is not None and person.teams_user_id != teams_user_id
    other_aad = aad is not None and person.aad_object_id is not None and person.aad_object_id != aad
    return other_teams or other_aad


async def _by_teams_identity(session: AsyncSession, teams_user_id: str, aad: str | None) -> list[Person]:
    """The records the sender's Teams id or object id find, the Teams id's own first; refused
    when any of them is bound to another identity."""
    clauses = [Person.teams_user_id == teams_user_id]
    if aad:
        clauses.append(Person.aad_object_id == aad)
    found = list((await session.scalars(select(Person).where(or_(*clauses)).order_by(Person.id))).all())
    found.sort(key=lambda p: p.teams_user_id != teams_user_id)
    for person in found:
        if person.teams_user_id == teams_user_id and aad and person.aad_object_id not in (None, aad):
            raise IdentityConflict(OTHER_OBJECT_ID, [p.id for p in found])
        if person.teams_user_id not in (None, teams_user_id):
            raise IdentityConflict(SECOND_TEAMS_ID, [p.id for p in found])
    return found


async def _one_record(
    session: AsyncSession, *, teams_user_id: str, aad: str | None, directory: Directory, now: datetime
) -> Person | None:
    """Every record this sender's names find, folded into one.

    Only records no other Teams identity is bound to are folded: a mail or UPN naming someone
    else's record is refused, never a way into it."""
    found = await _by_teams_identity(session, teams_user_id, aad)
    if not directory.guest:
        named = await _named_by(session, directory.addresses)
        taken = [p for p in named if _bound_elsewhere(p, teams_user_id, aad)]
        if taken:
            raise IdentityConflict(ADDRESS_OF_ANOTHER, [p.id for p in taken + found])
    if directory.guest:
        tied = [p for p in found if p.email or p.upn]
        for person in tied:
            # Tied to a mail or UPN before Teams said guest: whatever those names brought stays behind.
            person.teams_user_id = person.aad_object_id = None
        await session.flush()
        found = [p for p in found if p not in tied]
        named: list[Person] = []
    else:
        named = await _named_by(session, directory.addresses)
    # A record the roles file named takes over the Teams identity, so that the notifications
    # waiting for it reach them.
    survivor = next((p for p in named if p in found), None) or next(iter(named + found), None)
    for other in dict.fromkeys(named + found):
        if survivor is not None and other is not survivor:
            await _absorb(session, survivor, other, now)
    return survivor


async def link_teams_identity(
    session: AsyncSession,
    *,
    teams_user_id: str,
    aad_object_id: str | None,
    name: str | None,
    directory: Directory | None,
    now: datetime,
) -> Person:
    """The person this Teams user is, creating or completing their record.

    The roles file names people by mail, UPN or AAD object id; Teams names them by its own user
    id. The first time a person talks to the bot (with `directory`, from Teams' roster) they are
    tied together here. A guest is matched by object id alone: another organisation's account
    may carry any mail or UPN, so neither may bring it a role. Once tied, never moved: a second
    Teams id for the object id, another object id for the Teams id, or a mail or UPN of a record
    tied to someone else raises `IdentityConflict` before anything is written.
    """
    aad = aad_object_id or (directory.aad_object_id if directory else None)
    aad = aad if aad and len(aad) <= 64 else None
    if directory is None:  # the roster did not answer: the record Teams' ids find, if any
        person = next(iter(await _by_teams_identity(session, teams_user_id, aad)), None)
    else:
        person = await _one_record(
            session, teams_user_id=teams_user_id, aad=aad, directory=directory, now=now
        )
    if person is None:
        person = Person(created_at=now, updated_at=now)
        session.add(person)
    person.teams_user_id = teams_user_id
    if aad:
        person.aad_object_id = aad
    if directory is not None:
        _complete(person, directory)
    if name and name.strip():
        person.display_name = display_name_of(name)
    person.updated_at = now
    await session.flush()
    return person


def _complete(person: Person, directory: Directory) -> None:
    """Record what the roster said; a guest's mail and UPN are not kept, as they grant nothing."""
    person.guest = directory.guest
    if directory.guest:
        return
    upn, email = address(directory.upn), address(directory.email)
    if upn:
        person.upn = upn
    if email:
        person.email = email
    elif person.email is None:
        person.email = upn  # no mailbox: the UPN is where they are written to


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


async def roles_of(session: AsyncSession, person_ids: Collection[int]) -> dict[int, Roles]:
    """Several people's roles in one query; everyone asked about has an entry, if only no roles."""
    grants: dict[int, list[RoleGrant]] = {person_id: [] for person_id in person_ids}
    if grants:
        rows = await session.execute(
            select(RoleAssignment.person_id, RoleAssignment.role, ServiceArea.key, ServiceArea.name)
            .outerjoin(ServiceArea, ServiceArea.id == RoleAssignment.service_area_id)
            .where(RoleAssignment.person_id.in_(grants))
        )
        for person_id, role, area, name in rows.all():
            grants[person_id].append(RoleGrant(Role(role), area, name))
    return {person_id: Roles.of(held) for person_id, held in grants.items()}


@dataclass(frozen=True)
class Decider:
    id: int
    teams_user_id: str | None
    display_name: str | None
    email: str | None


@dataclass(frozen=True)
class Deciders:
    """Who may decide on a service's incidents: its managers and the register keepers, by id."""

    managers: list[Decider]
    keepers: list[Decider]
    reachable: frozenset[int]  # those with a saved personal conversation to notify them in
    roles: dict[int, Roles]  # every role each of them holds, not only the one that made them a decider


_qualifying = aliased(RoleAssignment)
_held = aliased(RoleAssignment)
_held_area = aliased(ServiceArea)
_reachable = aliased(ConversationRef)
# Built once, like _KNOWN: one row per decider and role they hold, with whether they can be reached.
_DECIDERS = (
    select(
        Person.id,
        Person.teams_user_id,
        Person.display_name,
        Person.email,
        _qualifying.role,
        exists().where(_reachable.person_id == Person.id, _reachable.kind == "personal"),
        _held.role,
        _held_area.key,
        _held_area.name,
    )
    .join(_qualifying, _qualifying.person_id == Person.id)
    .join(_held, _held.person_id == Person.id)
    .outerjoin(_held_area, _held_area.id == _held.service_area_id)
    .where(
        or_(
            and_(
                _qualifying.role == Role.MANAGER.value,
                _qualifying.service_area_id == bindparam("service_area_id"),
            ),
            _qualifying.role == Role.REGISTER_KEEPER.value,
        )
    )
    .order_by(Person.id)
)


async def deciders(session: AsyncSession, service_area_id: int) -> Deciders:
    """The managers, keepers, whether each can be reached and all their roles, in one query."""
    rows = await session.execute(_DECIDERS, {"service_area_id": service_area_id})
    managers: dict[int, Decider] = {}
    keepers: dict[int, Decider] = {}
    reachable: set[int] = set()
    grants: dict[int, set[RoleGrant]] = {}
    for person_id, teams_user_id, name, email, qualifying, can_reach, role, area, area_name in rows:
        decider = Decider(person_id, teams_user_id, name, email)
        (managers if qualifying == Role.MANAGER.value else keepers).setdefault(person_id, decider)
        if can_reach:
            reachable.add(person_id)
        grants.setdefault(person_id, set()).add(RoleGrant(Role(role), area, area_name))
    roles = {person_id: Roles.of(held) for person_id, held in grants.items()}
    return Deciders(list(managers.values()), list(keepers.values()), frozenset(reachable), roles)


async def service_areas(session: AsyncSession) -> list[ServiceArea]:
    return list((await session.scalars(select(ServiceArea).order_by(ServiceArea.name))).all())


@dataclass(frozen=True)
class Unreached:
    """Someone the bot has no 1:1 chat with, yet must be able to notify."""

    person_id: int
    display_name: str | None
    aad_object_id: str | None
    upn: str | None
    email: str | None
    guest: bool
    holds_role: bool


_personal = aliased(ConversationRef)


async def unreachable(session: AsyncSession, *, role_holders_only: bool = False) -> list[Unreached]:
    """People who hold a role, or for whom a notification waits, with no saved personal chat."""
    holds_role = exists().where(RoleAssignment.person_id == Person.id)
    waiting = exists().where(OutboxMessage.person_id == Person.id, OutboxMessage.status == "pending")
    rows = await session.execute(
        select(
            Person.id,
            Person.display_name,
            Person.aad_object_id,
            Person.upn,
            Person.email,
            Person.guest,
            holds_role,
        )
        .where(
            holds_role if role_holders_only else or_(holds_role, waiting),
            ~exists().where(_personal.person_id == Person.id, _personal.kind == "personal"),
        )
        .order_by(Person.display_name, Person.email, Person.id)
    )
    return [Unreached(*row[:5], bool(row[5]), bool(row[6])) for row in rows]
