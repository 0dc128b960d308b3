"""Who a Teams sender is, through the real endpoint.

Teams' roster gives a member's Entra object id, sign-in name (UPN) and mail, which may differ; the
roles file may name anyone by any of them. A guest gets no role by mail or UPN. A channel's
roster is asked without the thread's `;messageid=` suffix, which Teams refuses.
"""

import logging
from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.logs import configure
from storage import roles_file
from storage.models import AuditEvent, Person
from tests.security.test_logs_and_secrets import Lines
from tests.support import teams
from tests.support.teams import KIM

# Dana signs in as d.manager@ but her mail is dana.manager@, as happens after a change of name.
DANA = replace(
    teams.Person.called("Dana Manager", "dana.manager@council.example"), upn="d.manager@council.example"
)
# Another organisation's account, invited in: its mail and UPN are whatever that organisation says.
GUS = replace(
    teams.Person.called("Gus Guest", "gus@partner.example"),
    upn="gus_partner.example#EXT#@council.onmicrosoft.example",
    user_role="guest",
)
TEAM = "19:team-identity@thread.tacv2"
CHANNEL = "19:crg-identity@thread.tacv2"


def _roles_shown(card: dict) -> str:
    """The "Your roles" fact of a welcome or help card."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("title") == "Your roles":
                found.append(node["value"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    (roles,) = found
    return roles


def _managers(*names: str) -> str:
    listed = ", ".join(f'"{n}"' for n in names)
    return f'[service_areas.housing]\nname = "Housing"\nmanagers = [{listed}]\n'


async def _import(harness, text: str) -> roles_file.ImportResult:
    async with harness.sessions() as session:
        result = await roles_file.apply(session, roles_file.parse(text), now=harness.clock())
        await session.commit()
    return result


@pytest.mark.parametrize("named_by", ["upn", "email", "aad_object_id"])
async def test_a_manager_named_by_upn_mail_or_object_id_is_welcomed_with_their_roles(harness, named_by):
    roles = _managers(getattr(DANA, named_by))
    await _import(harness, roles)
    (welcome,) = await harness.say(DANA, "hello")
    assert _roles_shown(welcome.card) == "Staff, Manager of Housing"
    (dana,) = await harness.rows(Person)  # the file's record is the one Teams' identity joined
    assert (dana.teams_user_id, dana.aad_object_id) == (DANA.teams_id, DANA.aad_object_id)
    assert (dana.email, dana.upn, dana.guest) == (DANA.email, DANA.upn, False)
    # The file's name still finds her record, so importing it again changes nothing.
    assert not (await _import(harness, roles)).changed


async def test_someone_named_by_upn_after_they_first_talked_gets_their_roles(harness):
    (welcome,) = await harness.say(DANA, "hello")
    assert _roles_shown(welcome.card) == "Staff"
    await _import(harness, _managers(DANA.upn))
    (reply,) = await harness.say(DANA, "help")
    assert _roles_shown(reply.card) == "Staff, Manager of Housing"
    assert len(await harness.rows(Person)) == 1


async def test_roles_given_under_two_of_a_persons_names_are_all_theirs(harness):
    roles = _managers(DANA.aad_object_id) + f'\n[roles]\nregister_keepers = ["{DANA.upn}"]\n'
    await _import(harness, roles)
    assert len(await harness.rows(Person)) == 2  # the file cannot know they are one person
    (welcome,) = await harness.say(DANA, "hello")
    assert _roles_shown(welcome.card) == "Staff, Manager of Housing, Register keeper"
    merged = await harness.rows(AuditEvent, AuditEvent.action == "person.merged")
    assert len(merged) == 1
    assert not (await _import(harness, roles)).changed
    (reply,) = await harness.say(DANA, "help")
    assert _roles_shown(reply.card) == "Staff, Manager of Housing, Register keeper"


@pytest.mark.parametrize("named_by", ["email", "upn"])
async def test_a_guest_gets_no_role_from_a_matching_mail_or_upn(harness, named_by):
    await _import(harness, f'[roles]\nregister_keepers = ["{getattr(GUS, named_by)}"]\n')
    (welcome,) = await harness.say(GUS, "hello")
    assert _roles_shown(welcome.card) == "Staff"
    (reply,) = await harness.say(GUS, "undelivered")
    assert "Only some roles may use" in reply.text
    (guest,) = await harness.rows(Person, Person.teams_user_id == GUS.teams_id)
    # Neither is kept: a later import naming them must not find the guest's record either.
    assert (guest.guest, guest.email, guest.upn) == (True, None, None)


async def test_a_guest_named_by_object_id_has_the_role(harness):
    await _import(harness, f'[roles]\nregister_keepers = ["{GUS.aad_object_id}"]\n')
    (welcome,) = await harness.say(GUS, "hello")
    assert _roles_shown(welcome.card) == "Staff, Register keeper"


async def test_no_mail_or_upn_is_logged(harness):
    await _import(harness, _managers(DANA.upn) + f'\n[roles]\nregister_keepers = ["{GUS.email}"]\n')
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure("DEBUG")  # as the bot configures itself, at its most talkative level
    lines = Lines()
    root.handlers[:] = [lines]
    try:
        await harness.say(DANA, "hello")
        await harness.say(GUS, "hello")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    logged = "\n".join(lines.lines)
    assert "roster" in logged or "request" in logged  # the turns were logged
    for personal in (DANA.email, DANA.upn, GUS.email, GUS.upn, DANA.name, GUS.name):
        assert personal not in logged


async def test_a_keepers_first_words_in_a_channel_find_their_roles(harness):
    await harness.import_roles()
    harness.meet(KIM)
    harness.connector.teams[TEAM] = [KIM.teams_id]
    activity = teams.channel_message(
        KIM, harness.connector.url, "set review group channel", team_id=TEAM, channel_id=CHANNEL
    )
    assert activity["conversation"]["id"].startswith(f"{CHANNEL};messageid=")
    status, _ = await harness.post(activity)
    assert status == 201
    (reply,) = harness.connector.sent
    assert "Done: appeals to the Complaints Review Group will be posted in this channel" in reply.text
    async with harness.sessions() as session:
        kim = await session.scalar(select(Person).where(Person.teams_user_id == KIM.teams_id))
    assert kim is not None and kim.email == KIM.email
