"""The roles file: parsed strictly, imported exactly, refused whole when malformed."""

import pytest
from sqlalchemy import select

from policy.roles import Role, RoleGrant
from storage import people, roles_file
from storage.models import AuditEvent, Person, RoleAssignment, ServiceArea
from tests.support.teams import ROLES_TOML


def test_the_example_file_parses():
    spec = roles_file.parse(ROLES_TOML)
    assert [(a.key, a.name, a.managers) for a in spec.areas] == [
        ("housing", "Housing", ("amy.manager@council.example",)),
        ("waste", "Waste and Recycling", ()),
    ]
    assert spec.council_roles[Role.REGISTER_KEEPER] == ("kim.keeper@council.example",)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("[roles\n", 1, "not valid TOML"),
        ('[roles]\nregister_keepers = "kim@council.example"\n', 2, "must be a list"),
        ('[roles]\n\nregister_keepers = ["kim"]\n', 3, "neither an email address"),
        ('[roles]\nwizards = ["kim@council.example"]\n', 2, "unknown role 'wizards'"),
        ("[teams]\nx = 1\n", 1, "unknown section 'teams'"),
        ("[service_areas.housing]\nmanagers = []\n", 1, "needs a name"),
        ('[service_areas.Housing]\nname = "Housing"\n', 1, "lower case"),
        (
            '[service_areas.housing]\nname = "Housing"\nboss = ["a@b.example"]\n',
            3,
            "unknown key 'boss'",
        ),
    ],
)
def test_a_malformed_file_is_refused_with_its_line_and_reason(text, line, reason):
    with pytest.raises(roles_file.RolesFileError) as refused:
        roles_file.parse(text)
    assert refused.value.line == line
    assert reason in refused.value.reason


async def _grants(session) -> set[tuple[str, str, str | None]]:
    rows = await session.execute(
        select(Person.email, RoleAssignment.role, ServiceArea.key)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .outerjoin(ServiceArea, ServiceArea.id == RoleAssignment.service_area_id)
    )
    return set(rows.all())


async def test_importing_twice_changes_nothing_the_second_time(sessions, clock):
    spec = roles_file.parse(ROLES_TOML)
    async with sessions() as session:
        first = await roles_file.apply(session, spec, now=clock())
        await session.commit()
    async with sessions() as session:
        events_before = len((await session.scalars(select(AuditEvent))).all())
        second = await roles_file.apply(session, spec, now=clock())
        await session.commit()
        events_after = len((await session.scalars(select(AuditEvent))).all())
        grants = await _grants(session)
    assert (first.granted, first.areas_added) == (6, 2)
    assert not second.changed
    assert events_after == events_before
    assert ("amy.manager@council.example", "manager", "housing") in grants
    assert ("kim.keeper@council.example", "register_keeper", None) in grants


async def test_a_name_removed_from_the_file_loses_its_role(sessions, clock):
    async with sessions() as session:
        await roles_file.apply(session, roles_file.parse(ROLES_TOML), now=clock())
        await session.commit()
    trimmed = ROLES_TOML.replace('"ceri.panel@council.example", ', "").replace(
        'managers = ["amy.manager@council.example"]', "managers = []"
    )
    async with sessions() as session:
        result = await roles_file.apply(session, roles_file.parse(trimmed), now=clock())
        await session.commit()
        grants = await _grants(session)
        amy = await people.find_by_email(session, "amy.manager@council.example")
        assert amy is not None
        assert await people.roles_for(session, amy.id) == people.Roles.of([])
        revoked = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "role.revoked"))).all()
    assert result.revoked == 2
    assert ("ceri.panel@council.example", "complaints_review_group", None) not in grants
    assert ("dev.panel@council.example", "complaints_review_group", None) in grants
    assert {(e.record_type, e.detail["role"]) for e in revoked} == {
        ("person", "manager"),
        ("person", "complaints_review_group"),
    }


async def test_people_can_be_named_by_aad_object_id(sessions, clock):
    text = '[roles]\nregister_keepers = ["5D3C7F1A-0000-4000-8000-000000000001"]\n'
    async with sessions() as session:
        await roles_file.apply(session, roles_file.parse(text), now=clock())
        await session.commit()
        person = await session.scalar(select(Person))
        assert person.aad_object_id == "5d3c7f1a-0000-4000-8000-000000000001"
        roles = await people.roles_for(session, person.id)
    assert roles.grants == frozenset({RoleGrant(Role.REGISTER_KEEPER)})
