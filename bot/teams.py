"""Reading what Teams put in an activity, and turning dialog replies into activities."""

import re
from html import unescape
from typing import Any

from botbuilder.core import CardFactory, TurnContext
from botbuilder.schema import Activity, ActivityTypes, AttachmentLayoutTypes, InputHints

from bot.wire import OutgoingActivity
from dialogs.turn import Reply
from storage.conversations import Where

# The only Bot Framework channel believed. Others (Direct Line, Web Chat, the emulator) let their
# client write `from`, so a sender's Teams id and object id there prove nothing.
TEAMS_CHANNEL = "msteams"


def from_teams(channel_id: object) -> bool:
    return channel_id == TEAMS_CHANNEL


def channel_data(activity: Activity) -> dict[str, Any]:
    data = activity.channel_data
    return data if isinstance(data, dict) else {}


def tenant_id(activity: Activity) -> str | None:
    tenant = channel_data(activity).get("tenant")
    found = tenant.get("id") if isinstance(tenant, dict) else None
    if not isinstance(found, str):
        found = getattr(activity.conversation, "tenant_id", None)
    return found if isinstance(found, str) and len(found) <= 64 else None


def conversation_type(activity: Activity) -> str:
    kind = getattr(activity.conversation, "conversation_type", None)
    if kind in ("personal", "channel", "groupChat"):
        return kind
    return "channel" if _channel_id(activity) else "personal"


def _channel_id(activity: Activity) -> str | None:
    channel = channel_data(activity).get("channel")
    if isinstance(channel, dict) and isinstance(channel.get("id"), str) and len(channel["id"]) <= 400:
        return channel["id"]
    return None


def where(activity: Activity) -> Where:
    kind = conversation_type(activity)
    channel = _channel_id(activity) if kind == "channel" else None
    team = channel_data(activity).get("team")
    team_id = team.get("id") if isinstance(team, dict) else None
    # A channel is reached by its own id, so that each notification starts a new thread there.
    conversation_id = channel if channel else activity.conversation.id
    return Where(
        conversation_type=kind,
        conversation_id=conversation_id,
        service_url=activity.service_url,
        bot_id=activity.recipient.id,
        tenant_id=tenant_id(activity),
        user_id=activity.from_property.id if kind == "personal" else None,
        channel_id=channel,
        team_id=team_id if isinstance(team_id, str) and len(team_id) <= 400 else None,
    )


def roster_conversation_id(activity: Activity) -> str:
    """The conversation to ask Teams' roster in: a channel thread's id ends `;messageid=...`,
    which the roster refuses, so the channel itself is asked."""
    return (activity.conversation.id or "").split(";", 1)[0]


_TAGS = re.compile(r"<[^>]+>")


def typed_text(turn_context: TurnContext) -> str:
    """The command as typed: @mention of the bot removed, HTML stripped, spaces folded within
    each line (line breaks are kept: a note added to an incident may have paragraphs)."""
    activity = turn_context.activity
    TurnContext.remove_recipient_mention(activity)
    raw = re.sub(r"<br\s*/?>|</p>|</div>", "\n", activity.text or "", flags=re.IGNORECASE)
    plain = unescape(_TAGS.sub(" ", raw))
    lines = (" ".join(line.split()) for line in plain.splitlines())
    return "\n".join(line for line in lines if line)


def card_attachment_activity(card: dict[str, Any], summary: str | None = None) -> Activity:
    """As `MessageFactory.attachment` makes it, as an activity the SDK need not deep-copy."""
    activity = OutgoingActivity(
        type=ActivityTypes.message,
        attachment_layout=AttachmentLayoutTypes.list,
        attachments=[CardFactory.adaptive_card(card)],
    )
    if summary:
        activity.summary = summary
    return activity


def to_activity(reply: Reply) -> Activity:
    if reply.card is not None:
        activity = card_attachment_activity(reply.card, reply.summary)
        if reply.text:
            activity.text = reply.text
        return activity
    # As `MessageFactory.text` makes it.
    return OutgoingActivity(
        type=ActivityTypes.message, text=reply.text or "", input_hint=InputHints.accepting_input
    )
