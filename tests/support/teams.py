"""Activities as Teams sends them, for the people of a small test council."""

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TENANT_ID = "72f988bf-0000-4000-8000-00000000c0c1"
BOT_ID = "28:00000000-0000-4000-8000-0000000000b0"
BOT_NAME = "Customer Engagement"

_ids = itertools.count(1_700_000_000_000)


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    aad_object_id: str
    teams_id: str
    chat_id: str  # their 1:1 conversation with the bot
    upn: str | None = None  # their sign-in name, when it is not their mail
    user_role: str = "user"  # Teams' userRole: "user", or "guest" for another organisation's account

    @classmethod
    def called(cls, name: str, email: str) -> "Person":
        seed = uuid.uuid5(uuid.NAMESPACE_DNS, email)
        return cls(
            name=name,
            email=email,
            aad_object_id=str(seed),
            teams_id=f"29:1{seed.hex}",
            chat_id=f"a:1{seed.hex}personal",
        )

    def roster_entry(self) -> dict[str, Any]:
        """As Teams' roster answers for a member: object id, UPN, mail and role, all at once."""
        given, _, surname = self.name.partition(" ")
        return {
            "id": self.teams_id,
            "name": self.name,
            "aadObjectId": self.aad_object_id,
            "givenName": given,
            "surname": surname,
            "email": self.email,
            "userPrincipalName": self.upn or self.email,
            "tenantId": TENANT_ID,
            "userRole": self.user_role,
        }


AMY = Person.called("Amy Manager", "amy.manager@council.example")
CERI = Person.called("Ceri Panel", "ceri.panel@council.example")
KIM = Person.called("Kim Keeper", "kim.keeper@council.example")
SAM = Person.called("Sam Staff", "sam.staff@council.example")
CHIEF = Person.called("Chris Chief", "chief.exec@council.example")
CATH = Person.called("Cath Complaints", "cath.complaints@council.example")

ROLES_TOML = """
[service_areas.housing]
name = "Housing"
managers = ["amy.manager@council.example"]

[service_areas.waste]
name = "Waste and Recycling"
managers = []

[roles]
complaints_review_group = ["ceri.panel@council.example", "dev.panel@council.example"]
chief_executive = ["chief.exec@council.example"]
complaints_team = ["cath.complaints@council.example"]
register_keepers = ["kim.keeper@council.example"]
"""


def _base(person: Person, service_url: str, kind: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "type": kind,
        "id": str(next(_ids)),
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "localTimestamp": now.isoformat(),
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": person.teams_id, "name": person.name, "aadObjectId": person.aad_object_id},
        "conversation": {
            "conversationType": "personal",
            "tenantId": TENANT_ID,
            "id": person.chat_id,
        },
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "entities": [
            {
                "locale": "en-GB",
                "country": "GB",
                "platform": "Web",
                "timezone": "Europe/London",
                "type": "clientInfo",
            }
        ],
        "channelData": {"tenant": {"id": TENANT_ID}},
        "locale": "en-GB",
        "localTimezone": "Europe/London",
    }


def message(person: Person, service_url: str, text: str) -> dict[str, Any]:
    activity = _base(person, service_url, "message")
    activity.update({"text": text, "textFormat": "plain"})
    return activity


def card_submit(person: Person, service_url: str, value: dict[str, Any]) -> dict[str, Any]:
    """An Action.Submit pressed on a card in the chat: a message with a value and no text."""
    activity = _base(person, service_url, "message")
    activity["value"] = value
    activity["channelData"]["source"] = {"name": "message"}
    return activity


def installed(person: Person, service_url: str) -> dict[str, Any]:
    """What Teams sends when a person adds the app in personal scope."""
    activity = _base(person, service_url, "conversationUpdate")
    activity["membersAdded"] = [{"id": BOT_ID}]
    return activity


def installation_update(person: Person, service_url: str) -> dict[str, Any]:
    activity = _base(person, service_url, "installationUpdate")
    activity["action"] = "add"
    return activity


def invoke(person: Person, service_url: str, name: str, value: dict[str, Any]) -> dict[str, Any]:
    activity = _base(person, service_url, "invoke")
    activity.update({"name": name, "value": value})
    return activity


def channel_message(
    person: Person,
    service_url: str,
    text: str,
    *,
    team_id: str,
    channel_id: str,
    team_name: str = "Complaints Review Group",
    mention_bot: bool = True,
) -> dict[str, Any]:
    activity = _base(person, service_url, "message")
    root = activity["id"]
    shown = f"<at>{BOT_NAME}</at> {text}" if mention_bot else text
    activity.update(
        {
            "text": shown,
            "textFormat": "plain",
            "conversation": {
                "isGroup": True,
                "conversationType": "channel",
                "tenantId": TENANT_ID,
                "id": f"{channel_id};messageid={root}",
            },
            "channelData": {
                "teamsChannelId": channel_id,
                "teamsTeamId": team_id,
                "channel": {"id": channel_id},
                "team": {"id": team_id, "name": team_name},
                "tenant": {"id": TENANT_ID},
            },
        }
    )
    if mention_bot:
        activity["entities"].append(
            {
                "type": "mention",
                "text": f"<at>{BOT_NAME}</at>",
                "mentioned": {"id": BOT_ID, "name": BOT_NAME},
            }
        )
    return activity


def added_to_team(
    person: Person, service_url: str, *, team_id: str, team_name: str = "Housing"
) -> dict[str, Any]:
    """What Teams sends when `person` adds the app to a team: a conversationUpdate in its General
    channel (whose id is the team's), naming the bot among the members added."""
    activity = _base(person, service_url, "conversationUpdate")
    activity["membersAdded"] = [{"id": BOT_ID}]
    activity["conversation"] = {
        "isGroup": True,
        "conversationType": "channel",
        "tenantId": TENANT_ID,
        "id": team_id,
    }
    activity["channelData"] = {
        "team": {"id": team_id, "name": team_name},
        "channel": {"id": team_id},
        "tenant": {"id": TENANT_ID},
        "eventType": "teamMemberAdded",
    }
    return activity
