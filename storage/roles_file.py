"""The roles file (TOML): service areas, their managers, and the council-wide roles.

Importing is all or nothing: a malformed file is refused with its line and reason before the
register is touched, and importing the same file twice changes nothing.
"""

import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from policy.roles import Role
from storage import audit
from storage.models import Person, RoleAssignment, ServiceArea

# File key -> role, for the council-wide roles under [roles].
COUNCIL_ROLES: dict[str, Role] = {
    "complaints_review_group": Role.COMPLAINTS_REVIEW_GROUP,
    "chief_executive": Role.CHIEF_EXECUTIVE,
    "complaints_team": Role.COMPLAINTS_TEAM,
    "register_keepers": Role.REGISTER_KEEPER,
    "elected_members": Role.ELECTED_MEMBER,
}
AREA_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
AAD_OBJECT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


class RolesFileError(ValueError):
    def __init__(self, line: int | None, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}" if line else reason)


@dataclass(frozen=True)
class AreaSpec:
    key: str
    name: str
    managers: tuple[str, ...]


@dataclass(frozen=True)
class RolesSpec:
    areas: tuple[AreaSpec, ...] = ()
    council_roles: dict[Role, tuple[str, ...]] = field(default_factory=dict)


def _line_of(text: str, *needles: str) -> int | None:
    """The first line holding all the needles: tomllib gives no positions for values."""
    for number, line in enumerate(text.splitlines(), start=1):
        if all(n in line for n in needles):
            return number
    return None


def _people(text: str, where: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RolesFileError(_line_of(text, where), f"{where} must be a list of emails")
    people: list[str] = []
    for raw in value:
        ident = raw.strip().lower()
        if not (EMAIL.match(ident) or AAD_OBJECT_ID.match(ident)):
            raise RolesFileError(
                _line_of(text, f'"{raw}"'),
                f"{raw!r} in {where} is neither an email address or UPN nor an AAD object id",
            )
        if ident not in people:
            people.append(ident)
    return tuple(people)


def parse(text: str) -> RolesSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # Python 3.11's TOMLDecodeError carries its position only in the message.
        found = re.search(r"\(at line (\d+), column \d+\)$", str(error))
        reason = str(error)[: found.start()].strip() if found else str(error)
        line = int(found.group(1)) if found else None
        raise RolesFileError(line, f"not valid TOML: {reason}") from None

    unknown = set(data) - {"service_areas", "roles"}
    if unknown:
        key = sorted(unknown)[0]
        raise RolesFileError(_line_of(text, key), f"unknown section {key!r}: expected service_areas or roles")

    areas_table = data.get("service_areas", {})
    if not isinstance(areas_table, dict):
        raise RolesFileError(_line_of(text, "service_areas"), "service_areas must be a table")
    areas: list[AreaSpec] = []
    for key, area in areas_table.items():
        header = f"service_areas.{key}"
        if not AREA_KEY.match(key):
            raise RolesFileError(
                _line_of(text, key),
                f"service area key {key!r} must be lower case letters, digits, - or _",
            )
        if not isinstance(area, dict):
            raise RolesFileError(_line_of(text, key), f"[{header}] must be a table")
        extra = set(area) - {"name", "managers"}
        if extra:
            bad = sorted(extra)[0]
            raise RolesFileError(_line_of(text, bad), f"unknown key {bad!r} in [{header}]")
        name = area.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RolesFileError(_line_of(text, header), f"[{header}] needs a name")
        managers = _people(text, f"{header}.managers", area.get("managers", []))
        areas.append(AreaSpec(key, name.strip(), managers))

    roles_table = data.get("roles", {})
    if not isinstance(roles_table, dict):
        raise RolesFileError(_line_of(text, "roles"), "roles must be a table")
    council: dict[Role, tuple[str, ...]] = {}
    for key, value in roles_table.items():
        if key not in COUNCIL_ROLES:
            known = ", ".join(COUNCIL_ROLES)
            raise RolesFileError(_line_of(text, key), f"unknown role {key!r}: expected {known}")
        council[COUNCIL_ROLES[key]] = _people(text, key, value)
    return RolesSpec(tuple(areas), council)


@dataclass
class ImportResult:
    granted: int = 0
    revoked: int = 0
    areas_added: int = 0
    areas_renamed: int = 0

    @property
    def changed(self) -> bool:
        return any((self.granted, self.revoked, self.areas_added, self.areas_renamed))


async def _person_for(session: AsyncSession, ident: str, now: datetime) -> Person:
    # A mail or a UPN: the file cannot say which, and Teams' roster tells them apart.
    by_address = or_(Person.email == ident, Person.upn == ident)
    named = by_address if "@" in ident else Person.aad_object_id == ident
    person = await session.scalar(select(Person).where(named).order_by(Person.id).limit(1))
    if person is None:
        person = Person(created_at=now, updated_at=now)
        if "@" in ident:
            person.email = ident
        else:
            person.aad_object_id = ident
        session.add(person)
        await session.flush()
    return person


async def apply(
    session: AsyncSession, spec: RolesSpec, *, now: datetime, actor_id: int | None = None
) -> ImportResult:
    """Make the register's roles exactly those of the file. The caller commits."""
    result = ImportResult()
    areas = {a.key: a for a in (await session.scalars(select(ServiceArea))).all()}
    for area in spec.areas:
        existing = areas.get(area.key)
        if existing is None:
            existing = ServiceArea(key=area.key, name=area.name)
            session.add(existing)
            await session.flush()
            areas[area.key] = existing
            result.areas_added += 1
            await audit.record(
                session,
                now=now,
                actor_id=actor_id,
                action="service_area.added",
                record_type="service_area",
                record_id=existing.id,
                detail={"key": area.key},
            )
        elif existing.name != area.name:
            existing.name = area.name
            result.areas_renamed += 1
            await audit.record(
                session,
                now=now,
                actor_id=actor_id,
                action="service_area.renamed",
                record_type="service_area",
                record_id=existing.id,
                detail={"key": area.key},
            )

    wanted: set[tuple[int, str, int | None]] = set()
    for area in spec.areas:
        for ident in area.managers:
            person = await _person_for(session, ident, now)
            wanted.add((person.id, Role.MANAGER.value, areas[area.key].id))
    for role, idents in spec.council_roles.items():
        for ident in idents:
            person = await _person_for(session, ident, now)
            wanted.add((person.id, role.value, None))

    current = {
        (a.person_id, a.role, a.service_area_id): a
        for a in (await session.scalars(select(RoleAssignment))).all()
    }
    area_keys = {a.id: key for key, a in areas.items()}
    for grant in sorted(wanted - current.keys(), key=str):
        person_id, role, area_id = grant
        session.add(RoleAssignment(person_id=person_id, role=role, service_area_id=area_id))
        result.granted += 1
        await audit.record(
            session,
            now=now,
            actor_id=actor_id,
            action="role.granted",
            record_type="person",
            record_id=person_id,
            detail={"role": role, "service_area": area_keys.get(area_id)},
        )
    for grant in sorted(current.keys() - wanted, key=str):
        person_id, role, area_id = grant
        await session.delete(current[grant])
        result.revoked += 1
        await audit.record(
            session,
            now=now,
            actor_id=actor_id,
            action="role.revoked",
            record_type="person",
            record_id=person_id,
            detail={"role": role, "service_area": area_keys.get(area_id)},
        )
    await session.flush()
    return result
