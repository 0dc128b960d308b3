"""Who is acting, and whether they may (issue 25), through the real endpoint.

Only Teams is believed; a person is their tenant and Entra object id, and the Teams id bound to
them once is never silently moved; answers about customers stay out of channels, and appeals are
posted only in a channel whose every member may see them.
"""

from typing import Any

import pytest

from storage.models import AuditEvent, ConversationRef, Person
from tests.security.conftest import snapshot
from tests.support import teams
from tests.support.teams import KIM


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
