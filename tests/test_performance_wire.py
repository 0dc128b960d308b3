"""The schema-walking (de)serializer gives what msrest gives, and leaves to msrest what it cannot."""

from typing import Any

import pytest
from botbuilder.schema import Activity, Attachment, ChannelAccount
from msrest.serialization import Model, Serializer

from bot.wire import _MODELS, activity_from_json, activity_to_json
from tests.support import teams
from tests.support.teams import AMY, SAM

MSREST = Serializer(_MODELS)


def _everything(value: Any) -> Any:
    """A model as plain data, additional properties included, to compare two objects whole."""
    if isinstance(value, Model):
        return {type(value).__name__: {k: _everything(v) for k, v in vars(value).items()}}
    if isinstance(value, list):
        return [_everything(v) for v in value]
    if isinstance(value, dict):
        return {k: _everything(v) for k, v in value.items()}
    return value


ACTIVITIES = [
    teams.message(SAM, "https://smba.example/emea/", "help"),
    teams.invoke(AMY, "https://smba.example/emea/", "task/submit", {"data": {"a": 1, "b": [None, "x"]}}),
    teams.channel_message(SAM, "https://smba.example/", "help", team_id="19:t", channel_id="19:c"),
    {  # keys the schema does not name, at the top and inside an entity, are kept as msrest keeps them
        **teams.message(SAM, "https://smba.example/emea/", "<at>Bot</at> help"),
        "entities": [
            {"type": "mention", "mentioned": {"id": "28:bot", "name": "Bot"}, "text": "<at>Bot</at>"}
        ],
        "unheardOf": {"x": [1, 2]},
    },
]


@pytest.mark.parametrize("payload", ACTIVITIES)
def test_an_incoming_activity_is_read_as_msrest_reads_it(payload):
    assert _everything(activity_from_json(payload)) == _everything(Activity().deserialize(payload))


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-23T10:00:00.1234567Z",  # Teams' seven digits
        "2026-11-23T10:00:00Z",
        "2026-11-23T10:00:00.123+01:00",
        "2026-03-29T01:30:00.9999999-08:00",
        "2026-11-23T10:00:00",  # no zone: naive, as msrest reads it
    ],
)
def test_timestamps_are_read_as_msrest_reads_them(stamp):
    payload = {**ACTIVITIES[0], "timestamp": stamp, "localTimestamp": stamp}
    fast, stock = activity_from_json(payload), Activity().deserialize(payload)
    assert (fast.timestamp, fast.local_timestamp) == (stock.timestamp, stock.local_timestamp)
    assert fast.timestamp.utcoffset() == stock.timestamp.utcoffset()


def test_what_the_fast_reader_cannot_take_is_left_to_msrest():
    for payload in (
        {**ACTIVITIES[0], "text": 12, "timestamp": "not a date"},
        {**ACTIVITIES[0], "timestamp": "2026-11-23"},  # a date, not Teams' form: msrest refuses it
    ):
        with pytest.raises(Exception) as msrest_error:
            Activity().deserialize(payload)
        with pytest.raises(type(msrest_error.value)):
            activity_from_json(payload)
    coerced = {**ACTIVITIES[0], "text": 12}  # msrest turns it into "12": so must this
    assert activity_from_json(coerced).text == Activity().deserialize(coerced).text == "12"


@pytest.mark.parametrize("payload", ACTIVITIES)
def test_a_reply_is_written_as_msrest_writes_it(payload):
    incoming = Activity().deserialize(payload)
    reply = Activity(
        type="message",
        text="Hello",
        attachments=[Attachment(content_type="application/vnd.microsoft.card.adaptive", content={"a": [1]})],
        conversation=incoming.conversation,
        from_property=incoming.recipient,
        recipient=ChannelAccount(id=incoming.from_property.id),
        reply_to_id=incoming.id,
        service_url=incoming.service_url,
        channel_id=incoming.channel_id,
        timestamp=incoming.timestamp,
        channel_data={"notification": {"alert": True}},
    )
    assert activity_to_json(reply) == MSREST.body(reply, "Activity")
    assert activity_to_json(incoming) == MSREST.body(incoming, "Activity")


def test_replies_are_the_activities_message_factory_makes_and_copies_leave_them_as_they_were():
    import copy

    from botbuilder.core import CardFactory, MessageFactory, TurnContext

    from bot.teams import to_activity
    from dialogs.turn import Reply

    card = {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "Hi"}]}
    ours = to_activity(Reply(card=card, summary="Help"))
    stock = MessageFactory.attachment(CardFactory.adaptive_card(card))
    stock.summary = "Help"
    assert activity_to_json(ours) == activity_to_json(stock) == MSREST.body(stock, "Activity")
    text = to_activity(Reply(text="Hello"))
    assert activity_to_json(text) == activity_to_json(MessageFactory.text("Hello"))
    # What the SDK does before sending: copy, then address the copy.
    incoming = Activity().deserialize(ACTIVITIES[0])
    sent = TurnContext.apply_conversation_reference(
        copy.deepcopy(ours), TurnContext.get_conversation_reference(incoming)
    )
    assert sent.conversation.id == incoming.conversation.id and sent.recipient.id == incoming.from_property.id
    assert ours.conversation is None and ours.recipient is None and ours.reply_to_id is None
