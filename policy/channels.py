"""How the customer engaged: the policy covers every form of contact."""

from enum import StrEnum


class ContactChannel(StrEnum):
    PHONE = "phone"
    IN_PERSON = "in_person"
    EMAIL = "email"
    LETTER = "letter"
    ONLINE_FORM = "online_form"
    SOCIAL_MEDIA = "social_media"
    COUNCIL_EVENT = "council_event"
    COMMITTEE_MEETING = "committee_meeting"
    PUBLIC_ONLINE_COMMENT = "public_online_comment"


CHANNEL_LABELS: dict[ContactChannel, str] = {
    ContactChannel.PHONE: "Phone",
    ContactChannel.IN_PERSON: "In person",
    ContactChannel.EMAIL: "Email",
    ContactChannel.LETTER: "Letter",
    ContactChannel.ONLINE_FORM: "Online form",
    ContactChannel.SOCIAL_MEDIA: "Social media",
    ContactChannel.COUNCIL_EVENT: "Council event",
    ContactChannel.COMMITTEE_MEETING: "Committee meeting",
    ContactChannel.PUBLIC_ONLINE_COMMENT: "Public online comment",
}
