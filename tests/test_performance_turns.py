"""A turn writes who is speaking and where only when something changed; roles are read every time.

These are about behaviour, not speed: a repeated message records nothing new, a changed service
URL or name is recorded, and roles changed in the database apply to the very next action.
"""

from storage.models import ConversationRef, Person
from tests.support import teams
from tests.support.teams import KIM, SAM

REFUSED = "Only some roles may use"


async def _person(harness, who: teams.Person) -> Person:
    (person,) = await harness.rows(Person, Person.teams_user_id == who.teams_id)
    return person


async def _reference(harness, who: teams.Person) -> ConversationRef:
    (ref,) = await harness.rows(ConversationRef, ConversationRef.conversation_id == who.chat_id)
    return ref


async def test_a_repeated_message_writes_nothing(harness, clock):
    await harness.say(SAM, "hi")
    person, ref = await _person(harness, SAM), await _reference(harness, SAM)
    clock.advance(minutes=5)
    assert await harness.say(SAM, "help")
    # Nothing about Sam or the chat changed, so neither row was rewritten.
    assert (await _person(harness, SAM)).updated_at == person.updated_at
    assert (await _reference(harness, SAM)).updated_at == ref.updated_at


async def test_the_conversation_reference_is_rewritten_when_the_service_url_changes(harness, clock):
    await harness.say(SAM, "hi")
    moved = harness.connector.url.rstrip("/") + "/emea/"
    clock.advance(minutes=5)
    harness.meet(SAM)
    status, _ = await harness.post(teams.message(SAM, moved, "help"))
    assert status in (200, 201)
    ref = await _reference(harness, SAM)
    assert ref.service_url == moved
    assert ref.updated_at == clock()


async def test_a_changed_display_name_is_recorded(harness):
    await harness.say(SAM, "hi")
    renamed = teams.message(SAM, harness.connector.url, "help")
    renamed["from"]["name"] = "Sam  Staff-Jones"
    status, _ = await harness.post(renamed)
    assert status in (200, 201)
    assert (await _person(harness, SAM)).display_name == "Sam Staff-Jones"


async def test_roles_revoked_in_the_database_take_effect_on_the_next_action(harness):
    await harness.import_roles()
    await harness.say(KIM, "hi")
    allowed = await harness.say(KIM, "set review group channel")
    assert allowed and REFUSED not in (allowed[0].activity.get("text") or "")
    # The roles file no longer names Kim: the import revokes the role in the register.
    await harness.import_roles(teams.ROLES_TOML.replace('"kim.keeper@council.example"', ""))
    refused = await harness.say(KIM, "set review group channel")
    assert REFUSED in refused[0].activity["text"]


async def test_roles_granted_in_the_database_take_effect_on_the_next_action(harness):
    await harness.say(KIM, "hi")
    refused = await harness.say(KIM, "set review group channel")
    assert REFUSED in refused[0].activity["text"]
    await harness.import_roles()
    allowed = await harness.say(KIM, "set review group channel")
    assert allowed and REFUSED not in (allowed[0].activity.get("text") or "")
