"""Who is acting, and whether they may (issue 25), through the real endpoint.

Only Teams is believed; a person is their tenant and Entra object id, and the Teams id bound to
them once is never silently moved; answers about customers stay out of channels, and appeals are
posted only in a channel whose every member may see them.
"""

import json
from dataclasses import replace
from typing import Any

import pytest

from storage.models import AuditEvent, ConversationRef, CouncilSetting, Person
from tests.security.conftest import snapshot
from tests.support import teams
from tests.support.dialog import texts
from tests.support.teams import KIM, SAM
from tests.test_decide import HAL, ROLES, WES, _decide_active, _reported


async def _audit_count(harness: Any) -> int:
    return len(await harness.rows(AuditEvent))


@pytest.mark.parametrize("channel", ["directline", "webchat", "emulator", "MSTeams", ""])
async def test_an_activity_from_any_channel_but_teams_is_refused_and_stores_nothing(harness, channel):
    await harness.import_roles()
    before = (await snapshot(harness), await _audit_count(harness), await harness.rows(Person))
    url = harness.connector.url
    harness.meet(KIM)
    forged = [
        teams.message(KIM, url, "check Pat"),
        teams.invoke(KIM, url, "task/fetch", {"data": {"action": "decide", "incident_id": 1}}),
        teams.installed(KIM, url),
    ]
    for activity in forged:
        activity["channelId"] = channel
        status, _ = await harness.post(activity)
        assert status == 403
    assert harness.connector.sent == []
    assert await harness.rows(ConversationRef) == []
    after = (await snapshot(harness), await _audit_count(harness), await harness.rows(Person))
    assert [p.teams_user_id for p in after[2]] == [None] * len(after[2])
    assert before[:2] == after[:2]


async def test_a_keepers_object_id_from_another_channel_does_not_rebind_her(harness):
    await harness.import_roles()
    await harness.say(KIM, "hello")
    activity = teams.message(KIM, harness.connector.url, "help")
    activity["channelId"] = "directline"
    activity["from"]["id"] = "dl_attacker"
    status, _ = await harness.post(activity)
    assert status == 403
    (kim,) = await harness.rows(Person, Person.aad_object_id == KIM.aad_object_id)
    assert kim.teams_user_id == KIM.teams_id


# --- a person is their object id; the Teams id bound to them does not move -----------------------

# Each arrives with something of Kim's once Kim has talked to the bot.
SECOND_TEAMS_ID = replace(KIM, teams_id="29:1second-account", chat_id="a:1second-account-personal")
OTHER_OBJECT_ID = replace(KIM, aad_object_id="0d0d0d0d-0000-4000-8000-00000000bad0")
MAL = teams.Person.called("Mal Other", "mal.other@council.example")
KIMS_MAIL = replace(MAL, email=KIM.email)  # Teams' roster answers Kim's mail for Mal's account


async def _refusals(harness: Any) -> list[AuditEvent]:
    return await harness.rows(AuditEvent, AuditEvent.action == "identity.refused")


@pytest.mark.parametrize(
    "impostor, reason",
    [
        (SECOND_TEAMS_ID, "second_teams_id"),
        (OTHER_OBJECT_ID, "other_object_id"),
        (KIMS_MAIL, "address_of_another"),
    ],
    ids=["second Teams id", "other object id", "roster gives her mail"],
)
async def test_an_identity_that_would_move_a_bound_record_is_refused_audited_and_keepers_told(
    harness, impostor, reason
):
    await harness.import_roles()
    await harness.say(KIM, "hello")
    (kim_before,) = await harness.rows(Person, Person.teams_user_id == KIM.teams_id)
    references = len(await harness.rows(ConversationRef))
    harness.connector.clear()

    (reply,) = await harness.say(impostor, "undelivered")
    assert reply.text.startswith("I cannot act for you") and not reply.cards
    status, answer = await harness.invoke(
        impostor, "task/fetch", {"data": {"action": "decide", "incident_id": 1}}
    )
    assert status == 200 and answer["task"]["value"].startswith("I cannot act for you")

    (kim,) = await harness.rows(Person, Person.id == kim_before.id)
    assert (kim.teams_user_id, kim.aad_object_id, kim.email) == (KIM.teams_id, KIM.aad_object_id, KIM.email)
    assert len(await harness.rows(ConversationRef)) == references  # nothing saved for the impostor
    refusals = await _refusals(harness)
    assert len(refusals) == 2
    for event in refusals:
        assert event.actor_id is None and event.detail["reason"] == reason
        assert kim.id in event.detail["people"]
        shown = json.dumps(event.detail)
        for personal in (KIM.email, KIM.name, MAL.name, MAL.email):
            assert personal not in shown
    # The keepers are told once, however often the account tries.
    await harness.deliver()
    (notice,) = [s for s in harness.connector.sent if s.cards]
    assert notice.conversation_id == KIM.chat_id
    assert "A Teams account was refused" in json.dumps(notice.card)


async def test_two_records_each_bound_to_teams_are_never_folded_into_one(harness):
    """The object id's record is Kim's, the Teams id's record is Sam's: neither moves."""
    await harness.import_roles()
    await harness.say(KIM, "hello")
    await harness.say(teams.SAM, "hello")
    crossed = replace(teams.SAM, aad_object_id=KIM.aad_object_id)
    (reply,) = await harness.say(crossed, "undelivered")
    assert reply.text.startswith("I cannot act for you")
    people = {p.teams_user_id: p for p in await harness.rows(Person) if p.teams_user_id}
    assert people[KIM.teams_id].aad_object_id == KIM.aad_object_id
    assert people[teams.SAM.teams_id].aad_object_id == teams.SAM.aad_object_id
    assert await harness.rows(AuditEvent, AuditEvent.action == "person.merged") == []


# --- answers about customers stay out of channels -------------------------------------------------

TEAM = "19:team-housing@thread.tacv2"
CHANNEL = "19:housing-general@thread.tacv2"


@pytest.fixture
async def council(harness):
    """As tests/test_decide.py's: a council whose people have each opened the bot."""
    await harness.import_roles(ROLES)
    for person in (teams.AMY, HAL, WES, KIM, SAM):
        await harness.say(person, "hi")
    harness.connector.clear()
    return harness


async def test_check_in_a_channel_is_answered_in_the_persons_own_chat(council):
    _, card = await _reported(council)
    await _decide_active(council, card)
    council.connector.clear()
    status, _ = await council.post(
        teams.channel_message(
            SAM, council.connector.url, "check pat jones TD6 0SA", team_id=TEAM, channel_id=CHANNEL
        )
    )
    assert status == 201
    in_channel = [s for s in council.connector.sent if s.conversation_id.startswith(CHANNEL)]
    (told,) = in_channel
    assert "1:1 chat" in told.text and not told.cards
    for private in ("Pat", "Jones", "TD6", "0SA", "housing.contact", "Do not take calls"):
        assert private not in json.dumps(told.activity)
    await council.deliver()
    (answer,) = council.connector.to(SAM.chat_id)
    assert "Do not take calls; ask them to email housing.contact@council.example." in texts(answer.card)
    assert [s for s in council.connector.sent if s.conversation_id.startswith(CHANNEL)] == in_channel


CRG_TEAM = "19:team-crg@thread.tacv2"
CRG_CHANNEL = "19:crg-appeals@thread.tacv2"


@pytest.mark.parametrize("members", [[KIM, teams.CERI, SAM], None], ids=["staff member", "no roster"])
async def test_the_review_group_channel_is_set_only_where_every_member_may_see_appeals(harness, members):
    await harness.import_roles()
    harness.meet(KIM, teams.CERI, SAM)
    if members is not None:
        harness.connector.teams[CRG_TEAM] = [m.teams_id for m in members]
    status, _ = await harness.post(
        teams.channel_message(
            KIM, harness.connector.url, "set review group channel", team_id=CRG_TEAM, channel_id=CRG_CHANNEL
        )
    )
    assert status == 201
    (reply,) = harness.connector.sent
    assert "not set" in reply.text.lower() and "Done" not in reply.text
    assert await harness.rows(CouncilSetting) == []
    (refused,) = await harness.rows(AuditEvent, AuditEvent.action == "appeals.channel_refused")
    assert refused.detail == ({"outsiders": 1} if members else {"roster": "unavailable"})
