"""Who may do what. Everyone in the tenant is staff; other roles come from the roles file."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    MANAGER = "manager"  # of one service area
    COMPLAINTS_REVIEW_GROUP = "complaints_review_group"
    CHIEF_EXECUTIVE = "chief_executive"
    COMPLAINTS_TEAM = "complaints_team"
    REGISTER_KEEPER = "register_keeper"
    ELECTED_MEMBER = "elected_member"


ROLE_LABELS: dict[Role, str] = {
    Role.MANAGER: "Manager",
    Role.COMPLAINTS_REVIEW_GROUP: "Complaints Review Group member",
    Role.CHIEF_EXECUTIVE: "Chief Executive",
    Role.COMPLAINTS_TEAM: "Complaints team",
    Role.REGISTER_KEEPER: "Register keeper",
    Role.ELECTED_MEMBER: "Elected Member",
}


@dataclass(frozen=True)
class RoleGrant:
    role: Role
    service_area: str | None = None  # set for managers only
    # How people name the service area ("Waste and Recycling"): shown, never compared.
    area_name: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Roles:
    """The roles one person holds, as read from the register (never from a card)."""

    grants: frozenset[RoleGrant] = field(default_factory=frozenset)

    @classmethod
    def of(cls, grants: Iterable[RoleGrant]) -> "Roles":
        return cls(frozenset(grants))

    def has(self, role: Role) -> bool:
        return any(g.role is role for g in self.grants)

    @property
    def managed_areas(self) -> frozenset[str]:
        return frozenset(g.service_area for g in self.grants if g.role is Role.MANAGER and g.service_area)

    def manages(self, service_area: str) -> bool:
        return service_area in self.managed_areas

    @property
    def is_register_keeper(self) -> bool:
        return self.has(Role.REGISTER_KEEPER)


def may_log_appeal(roles: Roles, *, service_area: str) -> bool:
    """Appeals reach the register through the complaints team, the service's managers or a keeper."""
    return roles.has(Role.COMPLAINTS_TEAM) or roles.is_register_keeper or roles.manages(service_area)


def may_log_any_appeal(roles: Roles) -> bool:
    return roles.has(Role.COMPLAINTS_TEAM) or roles.is_register_keeper or bool(roles.managed_areas)
